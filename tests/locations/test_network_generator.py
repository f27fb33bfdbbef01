"""The synthetic network generator: sizes, identifiers that obey OCPI, ownership and seeds."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import CDR, Tariff
from cpms.identifiers import evse_id_validator
from locations.demo_network import emaid_check_digit
from locations.models import EVSE, Connector, Location
from locations.network_generator import NetworkGenerator, network_generate, seed_tag
from sessions_app.choices import SessionStatus
from sessions_app.models import Session, Token

pytestmark = pytest.mark.django_db


def test_generates_the_asked_numbers_of_locations_evses_and_connectors() -> None:
    summary = network_generate(locations=30, evses_per_location=3, seed=5)

    assert Location.objects.count() == 30
    assert EVSE.objects.count() == 90
    assert Connector.objects.count() == 180
    assert (summary.locations, summary.evses, summary.connectors) == (30, 90, 180)


def test_locations_belong_to_our_cpo_identities() -> None:
    network_generate(locations=40, seed=5)

    assert all(location.owner.is_our_cpo for location in Location.objects.select_related("owner"))


def test_network_spans_several_countries_and_time_zones() -> None:
    summary = network_generate(locations=200, seed=5)

    assert len(set(Location.objects.values_list("country", flat=True))) >= 5
    assert len(summary.time_zones) >= 5


def test_evse_ids_follow_emi3_under_the_operating_identity() -> None:
    network_generate(locations=20, seed=5)

    for evse in EVSE.objects.select_related("location__owner"):
        evse_id_validator(evse.evse_id)
        owner = evse.location.owner
        assert evse.evse_id.startswith(f"{owner.country_code}*{owner.party_id}*E")


def test_every_evse_has_ac_or_dc_connectors_priced_by_a_tariff_of_its_owner() -> None:
    network_generate(locations=60, seed=5)

    power_types = set(Connector.objects.values_list("power_type", flat=True))
    assert "DC" in power_types
    assert power_types & {"AC_1_PHASE", "AC_3_PHASE"}
    for connector in Connector.objects.select_related("evse__location")[:50]:
        (tariff_id,) = connector.tariff_ids
        owner = connector.evse.location.owner_id
        assert Tariff.objects.active().filter(owner_id=owner, ocpi_id=tariff_id).exists()


def test_tokens_are_spread_over_partner_emsps_with_valid_contract_ids() -> None:
    network_generate(locations=0, tokens=30, seed=5)

    tokens = list(Token.objects.select_related("owner"))
    assert len(tokens) == 30
    assert len({token.owner.code for token in tokens}) == 3
    for token in tokens:
        assert token.owner.is_partner_emsp
        body, check = token.contract_id.replace("-", "")[:14], token.contract_id[-1]
        assert emaid_check_digit(body) == check


def test_finished_sessions_come_with_priced_cdrs_of_the_tokens_emsp() -> None:
    network_generate(locations=20, tokens=10, cdrs=15, seed=5)

    assert Session.objects.filter(status=SessionStatus.COMPLETED).count() == 15
    cdrs = list(CDR.objects.select_related("session__token__owner"))
    assert len(cdrs) == 15
    for cdr in cdrs:
        session = cdr.session
        assert session is not None
        assert session.token is not None
        assert cdr.emsp_id == session.token.owner_id
        assert cdr.total_cost > 0
        assert cdr.tariffs[0]["id"] == session.connector.tariff_ids[0]


def test_the_same_seed_twice_is_refused() -> None:
    network_generate(locations=5, seed=5)

    with pytest.raises(CommandError, match="seed 5"):
        call_command("generate_network", locations=5, seed=5, stdout=StringIO())


def test_networks_of_different_seeds_share_a_database() -> None:
    network_generate(locations=5, seed=5)
    network_generate(locations=5, seed=6)

    assert Location.objects.count() == 10
    assert Location.objects.filter(ocpi_id__startswith=f"GEN{seed_tag(6)}-").count() == 5


def test_the_same_seed_draws_the_same_sites(db: None) -> None:
    def sites(seed: int) -> list[tuple[object, ...]]:
        generator = NetworkGenerator(seed=seed)
        built = [generator._site(number, 3) for number in range(5)]
        return [
            (location.ocpi_id, location.city, location.latitude, [e.evse_id for e in evses])
            for location, evses, _ in built
        ]

    assert sites(8) == sites(8)
    assert sites(8) != sites(9)


def test_command_reports_progress_and_a_summary() -> None:
    out = StringIO()

    call_command("generate_network", locations=12, tokens=3, seed=9, stdout=out)

    assert "locations 12/12" in out.getvalue()
    assert "Locations:  12" in out.getvalue()


def test_cdrs_without_tokens_are_refused() -> None:
    with pytest.raises(CommandError, match="tokens"):
        call_command("generate_network", locations=3, cdrs=2, stdout=StringIO())
