"""Reading partner and importer JSON: bad input names its field, tolerated input is stored."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from billing.models import CDR, Tariff
from locations.models import EVSE, Connector, Location
from roaming.choices import OcpiVersion
from roaming.modules.cdrs.serializers import cdr_from_ocpi
from roaming.modules.common import error_paths
from roaming.modules.locations.serializers import location_from_ocpi
from roaming.modules.sessions.serializers import (
    session_from_ocpi,
    session_to_ocpi,
    sessions_for_ocpi,
)
from roaming.modules.tariffs.serializers import tariff_from_ocpi
from roaming.modules.tokens.serializers import token_from_ocpi
from sessions_app.models import Session, Token
from tests.locations.factories import LocationFactory
from tests.roaming.serializers.examples import load_example, party, session_world
from tests.roaming.serializers.semantic import differences
from tests.roaming.serializers.test_examples import as_json

V211, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
pytestmark = pytest.mark.django_db


def errors(call: Callable[[], Any]) -> list[str]:
    """The 'path: message' lines of the ValidationError the call raises."""
    with pytest.raises(ValidationError) as caught:
        call()
    return error_paths(caught.value.detail)


def paths(call: Callable[[], Any]) -> list[str]:
    return [line.split(":", 1)[0] for line in errors(call)]


# --- locations ------------------------------------------------------------------------------------


def location(version: str = "2.3.0") -> dict[str, Any]:
    return load_example(version, "location_example.json")


def store_location(data: dict[str, Any], version: OcpiVersion = V230) -> Location:
    return location_from_ocpi(data, owner=party("BE", "BEC", ours=True), version=version)


def test_location_without_address_is_refused_naming_it():
    data = location()
    del data["address"]

    assert paths(lambda: store_location(data)) == ["address"]


def test_location_with_evses_not_a_list_is_refused_naming_them():
    data = {**location(), "evses": {"uid": "1"}}

    assert paths(lambda: store_location(data)) == ["evses"]


def test_location_with_text_for_a_number_names_the_nested_field():
    data = location()
    data["evses"][1]["connectors"][0]["max_voltage"] = "high"

    assert paths(lambda: store_location(data)) == ["evses[1].connectors[0].max_voltage"]


def test_location_with_unknown_evse_status_is_refused_naming_it():
    data = location()
    data["evses"][0]["status"] = "BROKEN"

    assert paths(lambda: store_location(data)) == ["evses[0].status"]


def test_location_221_refuses_a_connector_standard_new_in_230():
    data = location("2.2.1")
    data["evses"][0]["connectors"][0]["standard"] = "MCS"

    assert paths(lambda: store_location(data, V221)) == ["evses[0].connectors[0].standard"]


def test_location_230_keeps_a_connector_standard_it_does_not_know_yet():
    data = location()
    data["evses"][0]["connectors"][0]["standard"] = "FUTURE_PLUG_2030"

    store_location(data)

    assert Connector.objects.filter(standard="FUTURE_PLUG_2030").count() == 1


def test_location_230_drops_capabilities_it_does_not_know_yet():
    data = location()
    data["evses"][0]["capabilities"] = ["RESERVABLE", "TELEPORT_CAPABLE"]

    store_location(data)

    assert EVSE.objects.get(uid="3256").capabilities == ["RESERVABLE"]


def test_location_230_ignores_fields_it_does_not_know():
    data = {**location(), "x_future_field": {"anything": 1}}
    data["evses"][0]["x_new"] = True

    assert store_location(data).ocpi_id == "LOC1"


def test_location_of_another_party_is_refused_naming_the_party():
    data = {**location(), "party_id": "XYZ"}

    assert paths(lambda: store_location(data)) == ["party_id"]


def test_location_with_bad_evse_id_is_refused_naming_it():
    data = location()
    data["evses"][0]["evse_id"] = "not an eMI3 id"

    assert paths(lambda: store_location(data)) == ["evses[0].evse_id"]


def test_location_with_unknown_time_zone_is_refused_naming_it():
    data = {**location(), "time_zone": "Mars/Olympus_Mons"}

    assert paths(lambda: store_location(data)) == ["time_zone"]


def test_location_keeps_last_updated_as_given():
    store_location(location())

    stamps = (
        Location.objects.get().last_updated,
        EVSE.objects.get(uid="3256").last_updated,
        Connector.objects.get(evse__uid="3256", ocpi_id="2").last_updated,
    )
    assert stamps == (
        datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC),
        datetime(2015, 6, 28, 8, 12, 1, tzinfo=UTC),
        datetime(2015, 3, 18, 8, 12, 1, tzinfo=UTC),
    )


def test_location_sent_again_updates_the_same_rows():
    store_location(location())
    data = {**location(), "id": "loc1", "name": "Gent Zuid Station"}

    store_location(data)

    assert list(Location.objects.values_list("ocpi_id", "name")) == [("loc1", "Gent Zuid Station")]


def test_location_sent_again_without_an_evse_keeps_that_evse():
    store_location(location())
    data = location()
    data["evses"] = data["evses"][:1]

    store_location(data)

    assert EVSE.objects.count() == 2


def test_location_sent_again_without_a_connector_deletes_that_connector():
    store_location(location())
    data = location()
    data["evses"][0]["connectors"] = data["evses"][0]["connectors"][:1]

    store_location(data)

    assert list(Connector.objects.filter(evse__uid="3256").values_list("ocpi_id", flat=True)) == [
        "1"
    ]


def test_location_from_221_leaves_230_only_fields_alone():
    store_location(location())

    store_location(location("2.2.1"), V221)

    assert len(Location.objects.get().parking_places) == 3


def test_location_reads_bare_parking_ids_as_evse_parking_objects():
    store_location(location())

    assert EVSE.objects.get(uid="3257").parking == [{"parking_id": "2"}, {"parking_id": "3"}]


def test_location_211_gives_its_type_as_parking_type():
    data = {
        "id": "L211",
        "type": "UNDERGROUND_GARAGE",
        "address": "Street 1",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "time_zone": "Europe/Brussels",
        "last_updated": "2015-06-29T20:39:09Z",
    }

    assert store_location(data, V211).parking_type == "UNDERGROUND_GARAGE"


# --- tokens ---------------------------------------------------------------------------------------


def token(version: str = "2.3.0") -> dict[str, Any]:
    return load_example(version, "token_example_2_full_rfid.json")


def store_token(data: dict[str, Any], version: OcpiVersion = V230, **kwargs: Any) -> Token:
    party("DE", "TNM", ours=False)
    return token_from_ocpi(data, version=version, **kwargs)


def test_token_without_uid_is_refused_naming_it():
    data = token()
    del data["uid"]

    assert paths(lambda: store_token(data)) == ["uid"]


def test_token_with_text_for_valid_is_refused_naming_it():
    data = {**token(), "valid": "perhaps"}

    assert paths(lambda: store_token(data)) == ["valid"]


def test_token_with_unknown_whitelist_type_is_refused_naming_it():
    data = {**token(), "whitelist": "SOMETIMES"}

    assert paths(lambda: store_token(data)) == ["whitelist"]


def test_token_221_refuses_a_type_new_in_230():
    data = {**token("2.2.1"), "type": "EMAID"}

    assert paths(lambda: store_token(data, V221)) == ["type"]


def test_token_230_keeps_a_type_it_does_not_know_yet():
    data = {**token(), "type": "WALLET"}

    assert store_token(data).type == "WALLET"


def test_token_230_ignores_fields_it_does_not_know():
    data = {**token(), "x_loyalty_level": "gold"}

    assert store_token(data).uid == "12345678905880"


def test_token_of_an_unknown_party_is_refused_naming_the_party():
    data = {**token(), "party_id": "ZZZ"}

    assert paths(lambda: store_token(data)) == ["party_id"]


def test_token_of_one_of_our_own_identities_is_refused():
    party("DE", "OUR", ours=True)
    data = {**token(), "party_id": "OUR"}

    assert paths(lambda: store_token(data)) == ["party_id"]


def test_token_sent_by_another_party_than_it_names_is_refused():
    other = party("NL", "OTH", ours=False)

    assert paths(lambda: store_token(token(), owner=other)) == ["party_id"]


def test_token_211_needs_the_party_that_sent_it():
    data = load_example("2.2.1", "token_put_example.json")
    data["auth_id"] = data.pop("contract_id")

    with pytest.raises(ValueError, match=r"2\.1\.1 token names no owner"):
        token_from_ocpi(data, version=V211)


def test_token_language_is_stored_in_lower_case():
    data = {**token(), "language": "IT"}

    assert store_token(data).language == "it"


def test_token_sent_again_updates_the_same_row():
    store_token(token())

    store_token({**token(), "valid": False, "uid": "12345678905880".lower()})

    assert list(Token.objects.values_list("valid", flat=True)) == [False]


# --- sessions -------------------------------------------------------------------------------------


def session(version: str = "2.3.0") -> dict[str, Any]:
    return load_example(version, "session_example_2_short_finished.json")


def store_session(data: dict[str, Any], version: OcpiVersion = V230) -> Session:
    return session_from_ocpi(data, owner=party("BE", "BEC", ours=True), version=version)


@pytest.fixture
def world():
    session_world(session())


@pytest.mark.parametrize("field", ["location_id", "evse_uid", "connector_id"])
def test_session_at_an_unknown_place_is_refused_naming_the_reference(world, field):
    data = {**session(), field: "NOPE"}

    assert paths(lambda: store_session(data)) == [field]


def test_session_of_an_unknown_emsp_is_refused_naming_the_token(world):
    data = session()
    data["cdr_token"]["party_id"] = "ZZZ"

    assert paths(lambda: store_session(data)) == ["cdr_token"]


def test_session_with_text_for_kwh_is_refused_naming_it(world):
    data = {**session(), "kwh": "lots"}

    assert paths(lambda: store_session(data)) == ["kwh"]


def test_session_with_negative_kwh_is_refused_naming_it(world):
    data = {**session(), "kwh": -1}

    assert paths(lambda: store_session(data)) == ["kwh"]


def test_session_230_with_a_221_price_is_refused_naming_it(world):
    data = {**session(), "total_cost": {"excl_vat": 8.5, "incl_vat": 9.35}}

    assert paths(lambda: store_session(data)) == ["total_cost.before_taxes"]


def test_session_with_unknown_status_is_refused_naming_it(world):
    data = {**session(), "status": "PAUSED"}

    assert paths(lambda: store_session(data)) == ["status"]


def test_session_without_cdr_token_is_refused_naming_it(world):
    data = session()
    del data["cdr_token"]

    assert paths(lambda: store_session(data)) == ["cdr_token"]


def test_session_ending_before_it_starts_is_refused(world):
    data = {**session(), "end_date_time": "2015-06-29T20:00:00Z"}

    assert paths(lambda: store_session(data)) == ["non_field_errors"]


def test_session_sent_again_replaces_its_charging_periods(world):
    store_session(session())
    data = session()
    data["charging_periods"] = data["charging_periods"][:1]

    store_session(data)

    assert Session.objects.get().charging_periods.count() == 1


def test_session_links_the_token_row_of_its_emsp_when_we_have_it(world):
    store_token_row = token_from_ocpi(
        {**load_example("2.3.0", "token_put_example.json"), "uid": "123abc", "party_id": "TST"},
        version=V230,
    )

    assert store_session(session()).token == store_token_row


def test_session_from_221_goes_out_as_the_230_example(world):
    stored = store_session(session("2.2.1"), V221)

    reloaded = sessions_for_ocpi(Session.objects.filter(pk=stored.pk)).get()

    assert differences(session("2.3.0"), as_json(session_to_ocpi(reloaded, V230))) == []


def test_session_211_with_an_unknown_auth_id_is_refused_naming_it(world):
    data = {
        "id": "101",
        "start_datetime": "2015-06-29T22:39:09Z",
        "kwh": 0,
        "auth_id": "UNKNOWN-CONTRACT",
        "auth_method": "WHITELIST",
        "location": {"id": "LOC1", "evses": [{"uid": "3256", "connectors": [{"id": "1"}]}]},
        "currency": "EUR",
        "status": "PENDING",
        "last_updated": "2015-06-29T22:39:09Z",
    }

    assert paths(lambda: store_session(data, V211)) == ["auth_id"]


# --- tariffs --------------------------------------------------------------------------------------


def tariff(version: str = "2.3.0", name: str = "tariff_4_complex.json") -> dict[str, Any]:
    return load_example(version, name)


def store_tariff(data: dict[str, Any], version: OcpiVersion = V230) -> Tariff:
    return tariff_from_ocpi(data, owner=party("DE", "ALL", ours=True), version=version)


def test_tariff_without_currency_is_refused_naming_it():
    data = tariff()
    del data["currency"]

    assert paths(lambda: store_tariff(data)) == ["currency"]


def test_tariff_with_text_for_a_price_names_the_component():
    data = tariff()
    data["elements"][2]["price_components"][0]["price"] = "free"

    assert paths(lambda: store_tariff(data)) == ["elements[2].price_components[0].price"]


def test_tariff_with_unknown_dimension_is_refused_naming_it():
    data = tariff()
    data["elements"][0]["price_components"][0]["type"] = "KWH"

    assert paths(lambda: store_tariff(data)) == ["elements[0].price_components[0].type"]


def test_tariff_230_without_tax_included_is_refused_naming_it():
    data = tariff()
    del data["tax_included"]

    assert paths(lambda: store_tariff(data)) == ["tax_included"]


def test_tariff_with_an_impossible_time_is_refused_naming_the_restriction():
    data = tariff()
    data["elements"][4]["restrictions"]["start_time"] = "25:00"

    assert paths(lambda: store_tariff(data)) == ["elements[4].restrictions.start_time"]


def test_tariff_with_a_step_size_of_0_for_energy_is_refused_naming_it():
    data = tariff(name="tariff_8_simple_025kwh.json")
    data["elements"][0]["price_components"][0]["step_size"] = 0

    assert paths(lambda: store_tariff(data)) == ["elements[0].price_components[0].step_size"]


def test_tariff_with_an_empty_kwh_range_is_refused_naming_the_restrictions():
    data = tariff()
    data["elements"][1]["restrictions"] = {"min_kwh": 50, "max_kwh": 20}

    assert paths(lambda: store_tariff(data)) == ["elements[1].restrictions"]


def test_tariff_reservation_element_pricing_energy_is_refused_naming_the_component():
    data = tariff(name="tariff_15_reservation_5_euro_per_hour.json")
    data["elements"][0]["price_components"][0]["type"] = "ENERGY"

    assert paths(lambda: store_tariff(data)) == ["elements[0].price_components[0].type"]


def test_tariff_sent_again_replaces_its_elements():
    store_tariff(tariff())
    data = tariff()
    data["elements"] = data["elements"][:2]

    store_tariff(data)

    assert Tariff.objects.get().elements.count() == 2


def test_tariff_from_221_is_stored_as_excluding_taxes():
    stored = store_tariff(tariff("2.2.1"), V221)

    assert stored.tax_included == "NO"


def test_tariff_keeps_element_and_component_order():
    store_tariff(tariff())

    types = [
        [c.type for c in element.price_components.all()]
        for element in Tariff.objects.get().elements.all()
    ]
    assert types == [["FLAT"], ["TIME"], ["TIME"], ["TIME"], ["PARKING_TIME"], ["PARKING_TIME"]]


# --- CDRs -----------------------------------------------------------------------------------------


def cdr(version: str = "2.2.1") -> dict[str, Any]:
    return load_example(version, "cdr_example.json")


def store_cdr(data: dict[str, Any], version: OcpiVersion = V221) -> CDR:
    party("DE", "TNM", ours=False)
    return cdr_from_ocpi(data, owner=party("BE", "BEC", ours=True), version=version)


def test_cdr_we_have_already_is_refused_naming_its_id():
    store_cdr(cdr())

    assert paths(lambda: store_cdr({**cdr(), "id": "12345"})) == ["id"]


def test_cdr_without_total_cost_is_refused_naming_it():
    data = cdr()
    del data["total_cost"]

    assert paths(lambda: store_cdr(data)) == ["total_cost"]


def test_cdr_with_a_number_for_a_price_is_refused_naming_it():
    data = {**cdr(), "total_cost": 4.0}

    assert paths(lambda: store_cdr(data)) == ["total_cost"]


def test_cdr_with_unknown_auth_method_is_refused_naming_it():
    data = {**cdr(), "auth_method": "PIN"}

    assert paths(lambda: store_cdr(data)) == ["auth_method"]


def test_cdr_221_refuses_a_connector_standard_new_in_230():
    data = cdr()
    data["cdr_location"]["connector_standard"] = "MCS"

    assert paths(lambda: store_cdr(data)) == ["cdr_location.connector_standard"]


def test_cdr_230_ignores_fields_it_does_not_know():
    data = copy.deepcopy(cdr("2.3.0"))
    data["tariffs"][0]["tax_included"] = "NO"
    data["x_carbon_grams"] = 1200

    assert store_cdr(data, V230).ocpi_id == "12345"


def test_cdr_keeps_its_tariffs_as_230_copies():
    stored = store_cdr(cdr())

    assert stored.tariffs == [
        {
            "country_code": "BE",
            "party_id": "BEC",
            "id": "12",
            "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "TIME", "price": 2, "vat": 10, "step_size": 300}]}
            ],
            "tax_included": "NO",
            "last_updated": "2015-02-02T14:15:01Z",
        }
    ]


def test_cdr_keeps_tax_lines_from_221_prices():
    stored = store_cdr(cdr())

    assert (stored.total_cost, stored.total_cost_taxes) == (
        Decimal("4.0000"),
        [{"name": "VAT", "amount": "0.4000"}],
    )


def test_cdr_is_linked_to_our_session_and_location_when_we_have_them():
    owner = party("BE", "BEC", ours=True)
    location_row = LocationFactory(owner=owner, ocpi_id="LOC1")
    data = {**cdr(), "session_id": "S1"}

    stored = store_cdr(data)

    assert (stored.location, stored.session) == (location_row, None)
