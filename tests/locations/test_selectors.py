"""Which locations a party may see: published ones, and unpublished ones listing its tokens."""

from __future__ import annotations

from typing import Any

import pytest

from locations import selectors
from locations.choices import Status
from locations.models import Location
from locations.selectors import evses_for_location, locations_visible_to
from roaming.models import Party
from sessions_app.choices import TokenType
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.sessions_app.factories import TokenFactory


def _hidden_for(*entries: dict[str, Any]) -> Location:
    return LocationFactory.create(publish=False, publish_allowed_to=list(entries))


def test_published_location_is_visible_to_any_partner(emsp: Party) -> None:
    location = LocationFactory.create(publish=True)

    assert list(locations_visible_to(emsp)) == [location]


def test_unpublished_location_without_allowed_tokens_is_hidden(emsp: Party) -> None:
    TokenFactory.create(owner=emsp)
    LocationFactory.create(publish=False)

    assert not locations_visible_to(emsp).exists()


def test_unpublished_location_is_visible_to_the_owner_of_a_listed_uid(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, uid="04AABBCCDD", type=TokenType.RFID)
    location = _hidden_for({"uid": "04AABBCCDD", "type": "RFID"})

    assert list(locations_visible_to(emsp)) == [location]


def test_token_uid_matches_ignoring_case(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, uid="04AABBCCDD", type=TokenType.RFID)
    location = _hidden_for({"uid": "04aabbccdd", "type": "RFID"})

    assert list(locations_visible_to(emsp)) == [location]


def test_every_set_field_must_match(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, uid="04AABBCCDD", type=TokenType.RFID)
    _hidden_for({"uid": "04AABBCCDD", "type": "APP_USER"})

    assert not locations_visible_to(emsp).exists()


def test_visual_number_with_issuer_matches(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, visual_number="NL-ABC-123", issuer="Fleet Co")
    location = _hidden_for({"visual_number": "NL-ABC-123", "issuer": "Fleet Co"})

    assert list(locations_visible_to(emsp)) == [location]


def test_group_id_matches_ignoring_case(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    location = _hidden_for({"group_id": "fleet-17"})

    assert list(locations_visible_to(emsp)) == [location]


def test_another_partners_matching_token_does_not_reveal_the_location(
    emsp: Party, outsider: Party
) -> None:
    TokenFactory.create(owner=outsider, uid="04AABBCCDD", type=TokenType.RFID)
    _hidden_for({"uid": "04AABBCCDD", "type": "RFID"})

    assert not locations_visible_to(emsp).exists()


def test_entry_without_uid_visual_number_or_group_id_reveals_nothing(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, type=TokenType.RFID, issuer="Fleet Co")
    _hidden_for({"type": "RFID", "issuer": "Fleet Co"})

    assert not locations_visible_to(emsp).exists()


def test_one_matching_entry_of_several_is_enough(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    location = _hidden_for({"uid": "NOT-OURS", "type": "RFID"}, {"group_id": "FLEET-17"})

    assert list(locations_visible_to(emsp)) == [location]


def test_only_the_matching_unpublished_locations_are_revealed(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    published = LocationFactory.create(publish=True)
    revealed = _hidden_for({"group_id": "FLEET-17"})
    _hidden_for({"group_id": "FLEET-99"})

    assert set(locations_visible_to(emsp)) == {published, revealed}


def test_several_parties_see_what_any_of_them_may_see(emsp: Party, outsider: Party) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    TokenFactory.create(owner=outsider, group_id="FLEET-99")
    for_emsp = _hidden_for({"group_id": "FLEET-17"})
    for_outsider = _hidden_for({"group_id": "FLEET-99"})
    _hidden_for({"group_id": "FLEET-00"})

    assert set(locations_visible_to(emsp, outsider)) == {for_emsp, for_outsider}


@pytest.mark.parametrize("extra_entries", [0, 5])
def test_visibility_costs_a_bounded_number_of_queries(
    emsp: Party, django_assert_num_queries: Any, extra_entries: int
) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    for i in range(extra_entries):
        _hidden_for({"group_id": f"OTHER-{i}"})
    _hidden_for({"group_id": "FLEET-17"})

    # The state of the locations and tokens, the unpublished lists, the token matches, the result.
    with django_assert_num_queries(4):
        assert len(list(locations_visible_to(emsp))) == 1
    # While no location or token changes, neither the lists nor the matches are read again.
    with django_assert_num_queries(2):
        assert len(list(locations_visible_to(emsp))) == 1


def test_a_changed_list_is_read_again_at_once(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    hidden = _hidden_for({"group_id": "FLEET-00"})
    assert hidden not in set(locations_visible_to(emsp))

    hidden.publish_allowed_to = [{"group_id": "fleet-17"}]
    hidden.save()

    assert hidden in set(locations_visible_to(emsp))


def test_with_a_shared_cache_a_process_keeps_the_answer_while_nothing_changes(
    emsp: Party, redis_cache: Any, django_assert_num_queries: Any, monkeypatch: Any
) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    hidden = _hidden_for({"group_id": "FLEET-17"})
    assert set(locations_visible_to(emsp)) == {hidden}
    monkeypatch.setattr(selectors, "cache", _NoCacheReads())

    # The state of the locations and tokens and the result; no cache read.
    with django_assert_num_queries(2):
        assert set(locations_visible_to(emsp)) == {hidden}


def test_with_a_shared_cache_a_change_shows_at_once(emsp: Party, redis_cache: Any) -> None:
    TokenFactory.create(owner=emsp, group_id="FLEET-17")
    hidden = _hidden_for({"group_id": "FLEET-00"})
    assert hidden not in set(locations_visible_to(emsp))

    TokenFactory.create(owner=emsp, group_id="FLEET-00")

    assert hidden in set(locations_visible_to(emsp))


def test_each_call_gets_a_queryset_of_its_own(emsp: Party, redis_cache: Any) -> None:
    LocationFactory.create(publish=True)
    first = locations_visible_to(emsp)
    assert len(first) == 1  # evaluated: it holds its rows now

    again = locations_visible_to(emsp)

    assert again is not first
    assert again._result_cache is None


class _NoCacheReads:
    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the shared cache was read")


def test_values_with_quotes_and_backslashes_match_as_themselves(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, group_id='FLEET "A" \\ 1', visual_number='V"1\\')
    by_group = _hidden_for({"group_id": 'fleet "a" \\ 1'})
    by_number = _hidden_for({"visual_number": 'V"1\\'})
    _hidden_for({"visual_number": 'v"1\\'})  # visual numbers compare as given

    assert set(locations_visible_to(emsp)) == {by_group, by_number}


def test_evses_for_location_include_removed_ones_with_connectors(db: None) -> None:
    location = LocationFactory.create()
    live = ConnectorFactory.create(evse=EVSEFactory.create(location=location)).evse
    removed = EVSEFactory.create(location=location, status=Status.REMOVED)

    evses = list(evses_for_location(location))

    assert evses == [live, removed]
    assert [c.ocpi_id for c in evses[0].connectors.all()] == [live.connectors.get().ocpi_id]
