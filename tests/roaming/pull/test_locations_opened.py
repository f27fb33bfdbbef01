"""An unpublished location listing an eMSP's token is sent to that eMSP when the token arrives.

The same rule holds whichever way the token reaches us: pushed by the eMSP (PUT, PATCH) or
pulled from it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from roaming.models import OutboxKind, OutboxOperation, OutboxRow
from roaming.pull.tokens import tokens_pull
from sessions_app.services import token_patch, token_upsert
from tests.locations.factories import LocationFactory
from tests.roaming.pull.conftest import token_json
from tests.roaming.push.conftest import connect
from tests.sessions_app.factories import TokenFactory

UPDATED = datetime(2026, 3, 1, 10, tzinfo=UTC)


def location_puts() -> list[tuple[int, int]]:
    """(partner, location) of every location PUT queued."""
    return list(
        OutboxRow.objects.filter(kind=OutboxKind.LOCATION, operation=OutboxOperation.PUT)
        .order_by("id")
        .values_list("partner_id", "object_id")
    )


def test_a_pulled_fleet_token_sends_the_location_listing_its_group(
    peer, source, emsp, outsider
) -> None:
    connect(peer, parties=[outsider], tokens_sender=False, name="Other eMSP")
    fleet_site = LocationFactory.create(publish=False, publish_allowed_to=[{"group_id": "FLEET7"}])
    LocationFactory.create(publish=False, publish_allowed_to=[{"group_id": "OTHER"}])
    peer.tokens = [
        token_json("04000001", group_id="fleet7"),  # groups compare ignoring case
        token_json("04000002", group_id="FLEET7"),
        token_json("04000003"),
    ]

    tokens_pull(partner=source)

    assert location_puts() == [(source.pk, fleet_site.pk)]


def test_pulling_the_same_tokens_again_sends_nothing_new(peer, source) -> None:
    LocationFactory.create(publish=False, publish_allowed_to=[{"uid": "04000001"}])
    peer.tokens = [token_json("04000001")]
    tokens_pull(partner=source)
    OutboxRow.objects.all().delete()

    tokens_pull(partner=source, full=True)

    assert location_puts() == []


def test_a_token_put_by_its_emsp_sends_the_location_listing_it(peer, source, emsp) -> None:
    site = LocationFactory.create(publish=False, publish_allowed_to=[{"uid": "04AB"}])

    token_upsert(
        sender=emsp,
        owner=emsp,
        uid="04ab",
        token_type="RFID",
        values={
            "contract_id": "DE-EMS-C00000001",
            "issuer": "Example eMSP",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": UPDATED,
        },
    )

    assert location_puts() == [(source.pk, site.pk)]


def test_a_patch_giving_a_token_the_listed_group_sends_the_location(peer, source, emsp) -> None:
    token = TokenFactory.create(owner=emsp, group_id="")
    site = LocationFactory.create(publish=False, publish_allowed_to=[{"group_id": "FLEET7"}])

    token_patch(
        sender=emsp,
        owner=emsp,
        uid=token.uid,
        token_type=token.type,
        changes={"valid": False},
        last_updated=UPDATED,
    )
    assert location_puts() == []  # nothing the location lists changed

    token_patch(
        sender=emsp,
        owner=emsp,
        uid=token.uid,
        token_type=token.type,
        changes={"group_id": "FLEET7"},
        last_updated=UPDATED,
    )
    assert location_puts() == [(source.pk, site.pk)]
