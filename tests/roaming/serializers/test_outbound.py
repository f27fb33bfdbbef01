"""What each version is sent when we store more than it can say, and how little is queried."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from billing.choices import TaxIncluded
from billing.models import CDR, Tariff, TariffElement
from locations.choices import Capability, ConnectorType, ParkingRestriction, ParkingType, PowerType
from locations.models import EVSE, Connector, Location
from roaming.choices import OcpiVersion
from roaming.modules.cdrs.serializers import cdr_to_ocpi, cdrs_for_ocpi
from roaming.modules.locations.serializers import (
    connector_to_ocpi,
    evse_to_ocpi,
    location_to_ocpi,
    locations_for_ocpi,
)
from roaming.modules.sessions.serializers import session_to_ocpi, sessions_for_ocpi
from roaming.modules.tariffs.serializers import tariff_to_ocpi, tariffs_for_ocpi
from roaming.modules.tokens.serializers import token_to_ocpi
from sessions_app.choices import AuthMethod, SessionStatus, TokenType
from sessions_app.models import Session, Token
from tests.billing.factories import CDRFactory, PriceComponentFactory, TariffElementFactory
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.roaming.serializers.openapi import schema_errors
from tests.sessions_app.factories import (
    SessionChargingPeriodFactory,
    SessionFactory,
    TokenFactory,
)

V211, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
pytestmark = pytest.mark.django_db


# Typed shorthands: factory-boy's calls are not typed as the models they make.
def new_location(**kwargs: Any) -> Location:
    return cast(Location, LocationFactory(**kwargs))


def new_evse(**kwargs: Any) -> EVSE:
    return cast(EVSE, EVSEFactory(**kwargs))


def new_connector(**kwargs: Any) -> Connector:
    return cast(Connector, ConnectorFactory(**kwargs))


def new_token(**kwargs: Any) -> Token:
    return cast(Token, TokenFactory(**kwargs))


def new_session(**kwargs: Any) -> Session:
    return cast(Session, SessionFactory(**kwargs))


def new_element(**kwargs: Any) -> TariffElement:
    return cast(TariffElement, TariffElementFactory(**kwargs))


def _location(pk: int) -> Location:
    return locations_for_ocpi(Location.objects.filter(pk=pk)).get()


@pytest.fixture
def rich_location():
    """A location using what only 2.3.0 can say."""
    location = new_location(
        parking_type=ParkingType.ALONG_MOTORWAY,
        help_phone="+31201234567",
        parking_places=[
            {
                "id": "P1",
                "vehicle_types": ["PERSONAL_VEHICLE"],
                "restricted_to_type": False,
                "reservation_required": False,
            }
        ],
    )
    evse = new_evse(
        location=location,
        capabilities=[Capability.RFID_READER, Capability.PED_TERMINAL],
        parking_restrictions=[ParkingRestriction.EV_ONLY, ParkingRestriction.TAXIS],
        parking=[{"parking_id": "P1"}],
        accepted_service_providers=["NL-ABC"],
    )
    new_connector(
        evse=evse,
        ocpi_id="1",
        standard=ConnectorType.SAE_J3400,
        power_type=PowerType.AC_2_PHASE,
        tariff_ids=["T1", "T2"],
        capabilities=["ISO_15118_2_PLUG_AND_CHARGE"],
    )
    new_connector(evse=evse, ocpi_id="2", standard=ConnectorType.MCS)
    truck = new_evse(location=location)
    new_connector(evse=truck, standard=ConnectorType.MCS)
    return _location(location.pk)


def test_location_for_230_keeps_what_only_230_has(rich_location):
    written = location_to_ocpi(rich_location, V230)

    evse = written["evses"][0]
    assert (
        written["help_phone"],
        written["parking_places"][0]["id"],
        evse["parking"],
        evse["accepted_service_providers"],
        [c["standard"] for c in evse["connectors"]],
        evse["connectors"][0]["capabilities"],
        len(written["evses"]),
    ) == (
        "+31201234567",
        "P1",
        [{"parking_id": "P1"}],
        ["NL-ABC"],
        ["SAE_J3400", "MCS"],
        ["ISO_15118_2_PLUG_AND_CHARGE"],
        2,
    )


def test_location_for_221_leaves_out_fields_221_does_not_have(rich_location):
    written = location_to_ocpi(rich_location, V221)

    evse = written["evses"][0]
    assert {"help_phone", "parking_places"} & written.keys() == set()
    assert {"parking", "accepted_service_providers"} & evse.keys() == set()
    assert "capabilities" not in evse["connectors"][0]


def test_location_for_221_drops_restrictions_221_does_not_know(rich_location):
    evse = location_to_ocpi(rich_location, V221)["evses"][0]

    assert evse["parking_restrictions"] == ["EV_ONLY"]


def test_location_for_221_sends_sae_j3400_as_tesla_s_and_leaves_out_mcs(rich_location):
    evse = location_to_ocpi(rich_location, V221)["evses"][0]

    assert [(c["id"], c["standard"]) for c in evse["connectors"]] == [("1", "TESLA_S")]


def test_location_for_221_leaves_out_an_evse_without_connectors_it_can_name(rich_location):
    assert len(location_to_ocpi(rich_location, V221)["evses"]) == 1


@pytest.mark.parametrize("version", [V221, V230])
def test_location_with_newer_data_meets_the_schema_of_the_version(rich_location, version):
    written = location_to_ocpi(rich_location, version)

    assert schema_errors(written, version, "locations", "Location") == []


def test_location_for_211_uses_211_names(rich_location):
    written = location_to_ocpi(rich_location, V211)

    connector = written["evses"][0]["connectors"][0]
    assert (written["type"], connector["power_type"], connector["tariff_id"]) == (
        "OTHER",
        "AC_1_PHASE",
        "T1",
    )
    assert {"voltage", "amperage"} <= connector.keys()
    assert {"country_code", "party_id", "publish", "max_voltage"} & (
        written.keys() | connector.keys()
    ) == set()


def test_location_for_211_drops_capabilities_211_does_not_know(rich_location):
    evse = location_to_ocpi(rich_location, V211)["evses"][0]

    assert evse["capabilities"] == ["RFID_READER"]


def test_location_without_parking_type_is_unknown_for_211():
    location = _location(new_location(parking_type="").pk)

    assert location_to_ocpi(location, V211)["type"] == "UNKNOWN"


def test_location_for_211_always_has_a_postal_code():
    location = _location(new_location(postal_code="").pk)

    assert location_to_ocpi(location, V211)["postal_code"] == ""


def test_location_leaves_out_empty_optional_fields():
    location = _location(new_location(name="", postal_code="", facilities=[]).pk)

    written = location_to_ocpi(location, V221)

    assert {"name", "postal_code", "facilities", "evses", "images"} & written.keys() == set()


def test_location_sends_datetimes_in_utc_with_z_and_at_most_milliseconds():
    when = datetime.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    location = new_location()
    Location.objects.filter(pk=location.pk).update(last_updated=when)

    assert location_to_ocpi(_location(location.pk), V230)["last_updated"] == (
        "2024-05-01T12:00:00.123Z"
    )


def test_location_sends_coordinates_as_strings_with_six_decimals():
    location = _location(new_location(latitude=Decimal("52.1"), longitude=Decimal("4.5")).pk)

    assert location_to_ocpi(location, V221)["coordinates"] == {
        "latitude": "52.100000",
        "longitude": "4.500000",
    }


def test_list_of_locations_is_written_from_three_queries(django_assert_num_queries):
    for _ in range(3):
        new_connector(evse=new_evse(location=new_location()))

    with django_assert_num_queries(3):
        written = [
            location_to_ocpi(loc, V230) for loc in locations_for_ocpi(Location.objects.all())
        ]

    assert len(written) == 3


def test_evse_and_connector_alone_are_written_per_version(rich_location):
    evse = rich_location.evses.all()[0]

    assert (evse_to_ocpi(evse, V230) or {})["uid"] == evse.uid
    assert connector_to_ocpi(evse.connectors.all()[1], V221) is None


@pytest.mark.parametrize(
    ("version", "expected"),
    [(V230, "EMAID"), (V221, "OTHER"), (V211, "OTHER")],
)
def test_token_type_a_version_lacks_goes_out_as_other(version, expected):
    token = new_token(type=TokenType.EMAID)

    assert token_to_ocpi(token, version)["type"] == expected


def test_token_for_211_names_the_contract_auth_id():
    token = new_token(contract_id="NL-ABC-C12345678", group_id="G1")

    written = token_to_ocpi(token, V211)

    assert written["auth_id"] == "NL-ABC-C12345678"
    assert {"contract_id", "group_id", "country_code", "party_id"} & written.keys() == set()


def _session(**kwargs) -> Session:
    session = new_session(**kwargs)
    return sessions_for_ocpi(Session.objects.filter(pk=session.pk)).get()


def test_session_for_211_reports_a_reservation_as_pending_and_a_command_as_auth_request():
    session = _session(status=SessionStatus.RESERVATION, auth_method=AuthMethod.COMMAND)

    written = session_to_ocpi(session, V211)

    assert (written["status"], written["auth_method"]) == ("PENDING", "AUTH_REQUEST")


def test_session_for_211_embeds_only_the_evse_and_connector_used():
    session = new_session()
    new_connector(evse=session.evse)
    new_evse(location=session.location)

    written = session_to_ocpi(sessions_for_ocpi(Session.objects.filter(pk=session.pk)).get(), V211)

    evses = written["location"]["evses"]
    assert [(e["uid"], [c["id"] for c in e["connectors"]]) for e in evses] == [
        (session.evse.uid, [session.connector.ocpi_id])
    ]


def test_session_leaves_out_dimensions_the_version_lacks():
    session = new_session()
    SessionChargingPeriodFactory(
        session=session,
        dimensions=[{"type": "RESERVATION_EXPIRES", "volume": 1}, {"type": "ENERGY", "volume": 2}],
    )
    SessionChargingPeriodFactory(
        session=session, dimensions=[{"type": "RESERVATION_OVERTIME", "volume": 1}]
    )
    session = sessions_for_ocpi(Session.objects.filter(pk=session.pk)).get()

    periods = session_to_ocpi(session, V221)["charging_periods"]

    assert [p["dimensions"] for p in periods] == [[{"type": "ENERGY", "volume": Decimal(2)}]]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (V211, Decimal("8.5")),
        (V221, {"excl_vat": Decimal("8.5"), "incl_vat": Decimal("9.35")}),
        (
            V230,
            {"before_taxes": Decimal("8.5"), "taxes": [{"name": "VAT", "amount": Decimal("0.85")}]},
        ),
    ],
)
def test_session_total_cost_is_the_price_of_the_version(version, expected):
    session = _session(
        total_cost=Decimal("8.50"), total_cost_taxes=[{"name": "VAT", "amount": "0.85"}]
    )

    assert session_to_ocpi(session, version)["total_cost"] == expected


def test_session_total_cost_without_tax_lines_has_no_incl_vat():
    session = _session(total_cost=Decimal("2.50"), total_cost_taxes=None)

    assert session_to_ocpi(session, V221)["total_cost"] == {"excl_vat": Decimal("2.5")}


def _tariff(tax_included: str = TaxIncluded.NO) -> Tariff:
    element = new_element(tariff__tax_included=tax_included, tariff__ocpi_id="T1")
    PriceComponentFactory(element=element, price=Decimal("0.33"), vat=Decimal("10"))
    booking = new_element(tariff=element.tariff, booking="BOOKING")
    PriceComponentFactory(element=booking, type="FLAT", price=Decimal("5"))
    current = new_element(tariff=element.tariff, min_current=Decimal("32"))
    PriceComponentFactory(element=current, price=Decimal("0.40"))
    return tariffs_for_ocpi(Tariff.objects.filter(pk=element.tariff_id)).get()


def test_tariff_for_230_keeps_booking_elements_and_tax_included():
    written = tariff_to_ocpi(_tariff(), V230) or {}

    assert (len(written["elements"]), written["tax_included"]) == (3, "NO")


def test_tariff_for_221_leaves_out_booking_elements():
    written = tariff_to_ocpi(_tariff(), V221) or {}

    assert [e.get("restrictions", {}) for e in written["elements"]] == [
        {},
        {"min_current": Decimal("32")},
    ]
    assert "tax_included" not in written


def test_tariff_for_211_also_leaves_out_elements_restricted_by_current():
    written = tariff_to_ocpi(_tariff(), V211) or {}

    assert written["elements"] == [
        {"price_components": [{"type": "ENERGY", "price": Decimal("0.33"), "step_size": 1}]}
    ]


def test_tariff_with_prices_including_tax_goes_to_221_without_the_vat():
    written = tariff_to_ocpi(_tariff(TaxIncluded.YES), V221) or {}

    assert written["elements"][0]["price_components"][0]["price"] == Decimal("0.3")


def test_tariff_211_cannot_express_is_not_sent():
    element = new_element(reservation="RESERVATION")
    PriceComponentFactory(element=element, type="TIME")
    tariff = tariffs_for_ocpi(Tariff.objects.filter(pk=element.tariff_id)).get()

    assert tariff_to_ocpi(tariff, V211) is None


def test_tariff_limits_go_to_221_as_prices():
    element = new_element(
        tariff__min_price_before_taxes=Decimal("0.50"),
        tariff__min_price_after_taxes=Decimal("0.55"),
    )
    PriceComponentFactory(element=element)
    tariff = tariffs_for_ocpi(Tariff.objects.filter(pk=element.tariff_id)).get()

    assert (tariff_to_ocpi(tariff, V221) or {})["min_price"] == {
        "excl_vat": Decimal("0.5"),
        "incl_vat": Decimal("0.55"),
    }


@pytest.mark.parametrize("version", [V221, V230])
def test_tariff_with_newer_data_meets_the_schema_of_the_version(version):
    written = tariff_to_ocpi(_tariff(), version)

    assert schema_errors(written, version, "tariffs", "Tariff") == []


def _cdr(**kwargs) -> CDR:
    cdr = cast(CDR, CDRFactory(**kwargs))
    return cdrs_for_ocpi(CDR.objects.filter(pk=cdr.pk)).get()


@pytest.mark.parametrize("version", [V221, V230])
def test_cdr_from_the_factory_meets_the_schema_of_the_version(version):
    written = cdr_to_ocpi(_cdr(booking_id="B1"), version)

    assert schema_errors(written, version, "cdrs", "CDR") == []


def test_cdr_sends_booking_id_only_to_230():
    cdr = _cdr(booking_id="B1")

    assert (cdr_to_ocpi(cdr, V230)["booking_id"], "booking_id" in cdr_to_ocpi(cdr, V221)) == (
        "B1",
        False,
    )


def test_cdr_leaves_out_false_credit_flags():
    written = cdr_to_ocpi(_cdr(), V230)

    assert {"credit", "home_charging_compensation"} & written.keys() == set()


def test_cdr_list_is_written_without_a_query_per_cdr(django_assert_num_queries):
    for _ in range(3):
        connector = new_connector(ocpi_id="1", evse__uid="3256")
        CDRFactory(location=connector.evse.location)

    with django_assert_num_queries(3):
        written = [cdr_to_ocpi(cdr, V211) for cdr in cdrs_for_ocpi(CDR.objects.all())]

    assert [w["location"]["evses"][0]["connectors"][0]["voltage"] for w in written] == [230] * 3
