"""The demo network of `manage.py seed_demo`: realistic, valid, priced by the engine, loaded once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from billing.choices import TariffDimensionType, TaxIncluded
from billing.models import CDR, PriceComponent, Tariff, TariffElement
from billing.pricing import price_session, session_from_ocpi_cdr, tariff_from_ocpi
from cpms.identifiers import evse_id_validator
from cpms.value_objects import SCHEMAS
from locations.choices import PowerType, Status
from locations.demo_network import (
    DemoSeedError,
    _partners_ensure,
    demo_network_build,
    demo_network_seed,
    emaid_check_digit,
)
from locations.models import EVSE, Connector, Location
from roaming.models import Party
from roaming.services import parties_sync_ours
from sessions_app.choices import SessionStatus, TokenType
from sessions_app.models import Session, SessionChargingPeriod, Token

# Spans the end of daylight saving time (27 October 2024) in every demo time zone.
NOW = datetime(2024, 11, 12, 9, 30, tzinfo=UTC)
# Rough boxes (south, west, north, east) around each country's mainland.
COUNTRY_BOXES = {
    "NLD": (50.7, 3.3, 53.6, 7.3),
    "DEU": (47.2, 5.8, 55.1, 15.1),
    "BEL": (49.5, 2.5, 51.6, 6.4),
    "FRA": (42.3, -4.8, 51.1, 8.3),
    "GBR": (49.9, -8.2, 58.7, 1.8),
}
EMAID = re.compile(r"^([A-Z]{2})(-?)([A-Z0-9]{3})\2(C[0-9]{8})\2([A-Z0-9])$")


@pytest.fixture(scope="class")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the whole class (about a second): each test runs in a savepoint inside this
    transaction, which is rolled back when the class is done."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield demo_network_seed(now=NOW)
        transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.usefixtures("seeded")
class TestSeededNetwork:
    """What a newcomer finds after `seed_demo` on an empty database."""

    def test_seeding_creates_twenty_locations_in_several_countries_and_time_zones(self):
        assert Location.objects.count() >= 20
        assert Location.objects.values("country").distinct().count() >= 3
        assert Location.objects.values("time_zone").distinct().count() >= 3

    def test_every_location_is_owned_by_our_identity_of_its_country(self):
        ours = {party.country_code: party for party in parties_sync_ours()}
        for location in Location.objects.select_related("owner"):
            assert location.owner.is_our_cpo
        assert {loc.owner_id for loc in Location.objects.filter(country="DEU")} == {ours["DE"].pk}
        assert {loc.owner_id for loc in Location.objects.filter(country="NLD")} == {ours["NL"].pk}

    def test_coordinates_lie_in_the_country_of_the_address(self):
        for location in Location.objects.all():
            south, west, north, east = COUNTRY_BOXES[location.country]
            assert south < location.latitude < north, location
            assert west < location.longitude < east, location

    def test_locations_mix_round_the_clock_and_regular_hours_with_a_closing(self):
        hours = [loc.opening_times for loc in Location.objects.all()]
        assert any(h["twentyfourseven"] for h in hours)
        regular = [h for h in hours if not h["twentyfourseven"]]
        assert regular
        assert all(h["regular_hours"] and h["exceptional_closings"] for h in regular)

    def test_locations_carry_the_optional_details_a_partner_expects(self):
        locations = list(Location.objects.all())
        assert all(loc.operator and loc.help_phone and loc.facilities for loc in locations)
        assert all(loc.parking_type for loc in locations)
        assert any(loc.energy_mix for loc in locations)
        assert any(loc.images for loc in locations)
        assert any(loc.parking_places for loc in locations)

    def test_network_has_ac_sockets_and_dc_cables(self):
        ac = Connector.objects.filter(power_type=PowerType.AC_3_PHASE, standard="IEC_62196_T2")
        assert ac.filter(format="SOCKET", max_electric_power__in=[11000, 22000]).exists()
        dc = Connector.objects.filter(power_type=PowerType.DC, format="CABLE")
        assert dc.filter(standard="IEC_62196_T2_COMBO", max_electric_power=350000).exists()
        assert dc.filter(standard="CHADEMO").exists()
        assert not dc.filter(max_electric_power__isnull=True).exists()

    def test_every_location_has_one_to_six_evses(self):
        for location in Location.objects.all():
            assert 1 <= location.evses.count() <= 6

    def test_every_evse_id_is_emi3_with_its_operators_code(self):
        for evse in EVSE.objects.select_related("location__owner"):
            evse_id_validator(evse.evse_id)
            owner = evse.location.owner
            assert evse.evse_id.startswith(f"{owner.country_code}*{owner.party_id}*E")

    def test_evse_statuses_are_mostly_available_with_one_broken_and_one_planned(self):
        statuses = list(EVSE.objects.values_list("status", flat=True))
        assert statuses.count(Status.AVAILABLE) > len(statuses) / 2
        assert statuses.count(Status.OUTOFORDER) == 1
        assert statuses.count(Status.PLANNED) == 1
        assert statuses.count(Status.CHARGING) >= 1

    def test_each_charging_evse_has_exactly_one_active_session(self):
        charging = set(EVSE.objects.filter(status=Status.CHARGING).values_list("pk", flat=True))
        active = list(
            Session.objects.filter(status=SessionStatus.ACTIVE).values_list("evse_id", flat=True)
        )
        assert len(active) == 2
        assert sorted(active) == sorted(charging)

    def test_tariffs_include_a_time_window_and_a_parking_fee_after_two_hours(self):
        assert Tariff.objects.count() >= 4
        assert TariffElement.objects.filter(
            start_time__isnull=False, end_time__isnull=False
        ).exists()
        parking = PriceComponent.objects.filter(type=TariffDimensionType.PARKING_TIME)
        assert parking.filter(element__min_duration=7200).exists()

    def test_a_dc_tariff_has_a_start_fee_energy_and_time(self):
        dc_tariff = Tariff.objects.get(ocpi_id="NL-DC-FAST")
        types = set(
            PriceComponent.objects.filter(element__tariff=dc_tariff).values_list("type", flat=True)
        )
        assert types == {"FLAT", "ENERGY", "TIME"}

    def test_one_tariff_kind_states_its_prices_with_tax_included(self):
        assert Tariff.objects.filter(tax_included=TaxIncluded.YES).exists()

    def test_eu_tariffs_are_in_euro(self):
        assert set(Tariff.objects.values_list("currency", flat=True)) == {"EUR"}

    def test_every_connector_refers_to_a_tariff_of_its_own_operator(self):
        for connector in Connector.objects.select_related("evse__location"):
            owner_id = connector.evse.location.owner_id
            assert connector.tariff_ids
            for tariff_id in connector.tariff_ids:
                assert Tariff.objects.filter(owner_id=owner_id, ocpi_id=tariff_id).exists()

    def test_two_partner_emsps_have_twenty_tokens_each_with_one_invalid(self):
        partners = Party.objects.filter(is_ours=False)
        assert partners.count() == 2
        for partner in partners:
            tokens = Token.objects.filter(owner=partner)
            assert tokens.count() == 20
            assert tokens.filter(valid=False).count() == 1
            assert {TokenType.RFID, TokenType.APP_USER} <= set(
                tokens.values_list("type", flat=True)
            )
            assert tokens.values("whitelist").distinct().count() >= 3

    def test_rfid_uids_are_hex_card_serials(self):
        for uid in Token.objects.filter(type=TokenType.RFID).values_list("uid", flat=True):
            assert re.fullmatch(r"([0-9A-F]{8}|04[0-9A-F]{12})", uid)

    def test_contract_ids_are_emaids_of_their_emsp_with_a_valid_check_digit(self):
        for token in Token.objects.select_related("owner"):
            match = EMAID.match(token.contract_id)
            assert match, token.contract_id
            country, _, party, instance, check = match.groups()
            assert (country, party) == (token.owner.country_code, token.owner.party_id)
            assert emaid_check_digit(f"{country}{party}{instance}") == check

    def test_sessions_run_in_the_last_thirty_days_and_never_overlap_on_an_evse(self):
        completed = Session.objects.filter(status=SessionStatus.COMPLETED)
        assert completed.count() == 40
        assert not completed.filter(start_date_time__lt=NOW - timedelta(days=30)).exists()
        assert not completed.filter(end_date_time__gt=NOW).exists()
        for evse in EVSE.objects.all():
            sessions = list(evse.sessions.order_by("start_date_time"))
            for earlier, later in pairwise(sessions):
                assert earlier.end_date_time is not None
                assert earlier.end_date_time <= later.start_date_time

    def test_sessions_at_sites_with_opening_hours_happen_while_open(self):
        for session in Session.objects.select_related("location"):
            hours = session.location.opening_times
            if hours["twentyfourseven"]:
                continue
            assert session.end_date_time is not None, "only 24/7 sites have a car charging now"
            zone = ZoneInfo(session.location.time_zone)
            start = session.start_date_time.astimezone(zone)
            end = session.end_date_time.astimezone(zone)
            day = [h for h in hours["regular_hours"] if h["weekday"] == start.isoweekday()]
            assert day, session
            assert (
                day[0]["period_begin"] <= f"{start:%H:%M}" <= f"{end:%H:%M}" <= day[0]["period_end"]
            )

    def test_only_valid_tokens_charge_and_sessions_belong_to_the_tokens_emsp(self):
        for session in Session.objects.select_related("token"):
            assert session.token is not None
            assert session.token.valid
            assert session.emsp_id == session.token.owner_id
            assert session.charging_periods.exists()

    def test_every_completed_session_has_one_cdr_with_a_positive_total(self):
        for session in Session.objects.filter(status=SessionStatus.COMPLETED):
            cdr = CDR.objects.get(session=session)
            assert cdr.total_cost > 0
            assert cdr.total_cost == session.total_cost
            assert cdr.total_energy == session.kwh
        assert not CDR.objects.filter(session__status=SessionStatus.ACTIVE).exists()

    def test_cdr_totals_are_what_the_pricing_engine_charges_for_its_own_periods(self):
        """Re-price each CDR from its own snapshot: period timestamps, energy and tariff.

        Time volumes are left out on purpose: rounded to 0.0001 h they can cross a step_size
        boundary, while the period timestamps are exact to the second.
        """
        for cdr in CDR.objects.select_related("location"):
            assert cdr.location is not None
            periods = [
                {
                    **period,
                    "dimensions": [d for d in period["dimensions"] if "TIME" not in d["type"]],
                }
                for period in cdr.charging_periods
            ]
            data = {"end_date_time": cdr.end_date_time.isoformat(), "charging_periods": periods}
            result = price_session(
                tariff_from_ocpi(cdr.tariffs[0], "2.3.0"),
                session_from_ocpi_cdr(data).periods,
                cdr.location.time_zone,
            )
            assert result.total_cost.excl_tax == cdr.total_cost, cdr.ocpi_id
            assert result.total_energy == cdr.total_energy

    def test_some_cdrs_show_the_parking_fee_and_some_the_start_fee(self):
        assert CDR.objects.filter(total_parking_cost__gt=0).exists()
        assert CDR.objects.filter(total_fixed_cost__gt=0).exists()

    def test_cdr_snapshots_have_every_field_of_the_ocpi_cdr_location_and_token(self):
        location_fields = set(SCHEMAS["cdr_location"]["properties"]) - {"state"}
        for cdr in CDR.objects.all():
            assert set(cdr.cdr_location) >= location_fields
            assert set(cdr.cdr_token) == {"country_code", "party_id", "uid", "type", "contract_id"}
            assert cdr.cdr_token["country_code"] == cdr.emsp.country_code
            assert cdr.tariffs[0]["id"] == cdr.charging_periods[0]["tariff_id"]

    @pytest.mark.parametrize(
        "model",
        [
            Party,
            Location,
            EVSE,
            Connector,
            Tariff,
            TariffElement,
            PriceComponent,
            Token,
            Session,
            SessionChargingPeriod,
            CDR,
        ],
    )
    def test_every_seeded_row_passes_full_clean(self, model):
        rows = list(model.objects.all())
        assert rows
        for row in rows:
            row.full_clean()

    def test_seeding_twice_adds_nothing(self):
        counts = {model: model.objects.count() for model in (Location, Tariff, Token, Session, CDR)}
        with pytest.raises(DemoSeedError):
            demo_network_seed(now=NOW)
        assert {model: model.objects.count() for model in counts} == counts

    def test_without_a_british_identity_there_is_no_london_site(self):
        assert not Location.objects.filter(country="GBR").exists()


@pytest.mark.parametrize(
    ("emaid", "check"),
    [
        ("NN123ABCDEFGHI", "T"),
        ("FRXYZ123456789", "2"),
        ("ITA1B2C3E4F5G6", "4"),
        ("ESZU8WOX834H1D", "R"),
        ("PT73902837ABCZ", "Z"),
        ("DE83DUIEN83QGZ", "D"),
        ("DE83DUIEN83ZGQ", "M"),
        ("DE8AA001234567", "0"),
    ],
)
def test_emaid_check_digit_matches_published_examples(emaid, check):
    assert emaid_check_digit(emaid) == check


def test_seeding_is_refused_when_any_location_exists(db, our_cpo):
    Location.objects.create(
        owner=our_cpo,
        ocpi_id="MINE",
        address="Damrak 1",
        city="Amsterdam",
        country="NLD",
        latitude=Decimal("52.37"),
        longitude=Decimal("4.89"),
        time_zone="Europe/Amsterdam",
    )
    with pytest.raises(DemoSeedError, match="1 locations"):
        demo_network_seed(now=NOW)
    assert not Token.objects.exists()
    assert not Party.objects.filter(is_ours=False).exists()


def test_the_same_seed_and_time_build_the_same_network(db):
    ours = parties_sync_ours()
    partners = _partners_ensure()
    first = demo_network_build(ours=ours, partners=partners, seed=7, now=NOW)
    second = demo_network_build(ours=ours, partners=partners, seed=7, now=NOW)

    def fingerprint(network):
        return [
            (plan.session_id, plan.evse.evse.evse_id, plan.token.uid, plan.start, plan.kwh)
            for plan in network.plans
        ]

    assert fingerprint(first) == fingerprint(second)
    assert [t.uid for t in first.tokens] == [t.uid for t in second.tokens]


def test_a_british_identity_of_ours_adds_a_london_site_priced_in_pounds(db):
    parties = "NL-OPN:Open CPMS Netherlands;DE-OPN:Open CPMS Deutschland;GB-OPN:Open CPMS UK"
    with override_settings(OCPI_OUR_PARTIES=parties):
        demo_network_seed(now=NOW)
    london = Location.objects.get(city="London")
    assert london.owner.code == "GB-OPN"
    assert all(evse.evse_id.startswith("GB*OPN*E") for evse in london.evses.all())
    assert set(Tariff.objects.filter(owner=london.owner).values_list("currency", flat=True)) == {
        "GBP"
    }


def test_command_prints_a_summary_then_refuses_a_second_run(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Locations:" in out.getvalue()
    assert "CDRs:             40" in out.getvalue()
    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "not loaded" in again.getvalue()
    assert Location.objects.count() == len(set(Location.objects.values_list("ocpi_id", flat=True)))
