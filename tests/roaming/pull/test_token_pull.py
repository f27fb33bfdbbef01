"""Pulling tokens from an eMSP on loopback: pages, bad objects, increments, full lists."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from roaming.choices import OcpiVersion
from roaming.models import PullRun, PullState, SyncCursor
from roaming.pull.tokens import INCREMENTAL_OVERLAP, PullBusyError, tokens_pull
from roaming.tasks import pull_tokens
from roaming.transport.datetimes import parse_datetime
from sessions_app.models import Token
from tests.roaming.pull.conftest import token_json
from tests.roaming.push.conftest import connect
from tests.sessions_app.factories import TokenFactory


def test_a_pull_follows_every_page_and_records_a_bad_token_without_stopping(peer, source) -> None:
    peer.tokens = [token_json(f"0400000{n}") for n in range(5)]
    peer.tokens[2]["whitelist"] = "SOMETIMES"

    run = tokens_pull(partner=source)

    gets = peer.received("GET", "tokens")
    assert len(gets) == 3  # pages of 2, followed through their Link headers
    assert [r.query.get("offset", ["0"])[0] for r in gets] == ["0", "2", "4"]
    assert run.state == PullState.SUCCEEDED
    assert (run.received, run.created, run.updated, run.rejected) == (5, 4, 0, 1)
    [rejection] = run.rejections
    assert rejection["uid"] == "04000002"
    assert rejection["errors"][0].startswith("whitelist:")
    assert sorted(Token.objects.values_list("uid", flat=True)) == [
        "04000000",
        "04000001",
        "04000003",
        "04000004",
    ]


def test_an_incremental_pull_asks_for_changes_since_the_last_successful_one(peer, source) -> None:
    first = tokens_pull(partner=source)
    peer.forget()

    tokens_pull(partner=source)

    [get] = peer.received("GET")
    asked = parse_datetime(get.query["date_from"][0])
    assert abs(asked - (first.started_at - INCREMENTAL_OVERLAP)) < timedelta(milliseconds=1)
    assert SyncCursor.objects.get(partner=source).running_since is None


def test_a_full_pull_asks_for_everything(peer, source) -> None:
    tokens_pull(partner=source)
    peer.forget()
    tokens_pull(partner=source, full=True)
    [get] = peer.received("GET")
    assert "date_from" not in get.query


def test_a_pulled_token_replaces_ours_whatever_the_case_of_its_uid(peer, source, emsp) -> None:
    TokenFactory.create(
        owner=emsp, uid="abc123", last_updated=datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    )
    peer.tokens = [token_json("ABC123", valid=False)]

    run = tokens_pull(partner=source)

    token = Token.objects.get()
    assert (run.created, run.updated) == (0, 1)
    assert (token.uid, token.valid) == ("ABC123", False)


def test_a_token_we_hold_in_a_newer_state_is_left_alone(peer, source, emsp) -> None:
    TokenFactory.create(
        owner=emsp, uid="ABC123", last_updated=datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    )
    peer.tokens = [token_json("ABC123", valid=False)]
    tokens_pull(partner=source)
    assert Token.objects.get().valid is True


def test_a_token_of_a_party_the_connection_does_not_speak_for_is_rejected(peer, source) -> None:
    peer.tokens = [token_json("04000001", party_id="OTH")]
    run = tokens_pull(partner=source)
    assert run.rejected == 1
    assert "does not speak for DE-OTH" in run.rejections[0]["errors"][0]
    assert not Token.objects.exists()


def test_a_full_pull_sets_tokens_missing_from_the_list_invalid(peer, source, emsp) -> None:
    kept = TokenFactory.create(owner=emsp, uid="04000001")
    gone = TokenFactory.create(owner=emsp, uid="04000002")
    peer.tokens = [token_json("04000001")]

    run = tokens_pull(partner=source, full=True)

    assert run.invalidated == 1
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert (kept.valid, gone.valid) == (True, False)


def test_a_failing_partner_ends_the_run_failed_and_keeps_what_arrived(peer, source) -> None:
    peer.tokens = [token_json(f"0400000{n}") for n in range(4)]
    peer.failing_requests = {2}

    run = tokens_pull(partner=source)

    assert run.state == PullState.FAILED
    assert "HTTP 500" in run.error
    assert run.created == 2
    assert SyncCursor.objects.get(partner=source).last_success_started_at is None


def test_only_one_pull_of_a_partner_runs_at_a_time(peer, source) -> None:
    tokens_pull(partner=source)
    SyncCursor.objects.filter(partner=source).update(running_since=PullRun.objects.get().started_at)
    with pytest.raises(PullBusyError):
        tokens_pull(partner=source)


def test_tokens_of_a_2_1_1_partner_belong_to_its_emsp(peer, emsp) -> None:
    old = connect(peer, parties=[emsp], version=OcpiVersion.V2_1_1)
    token = token_json("04000001")
    for key in ("country_code", "party_id", "contract_id"):
        del token[key]
    peer.tokens = [{**token, "auth_id": "DE-EMS-C00000001"}]

    run = tokens_pull(partner=old)

    assert run.created == 1
    assert Token.objects.get().owner == emsp
    assert peer.received("GET")[0].path == "/ocpi/2.1.1/tokens"


def test_the_command_pulls_by_partner_name_with_progress(peer, source) -> None:
    peer.tokens = [token_json(f"0400000{n}") for n in range(3)]
    out = StringIO()

    call_command("ocpi_sync", "--partner", "token source", "--full", stdout=out)

    text = out.getvalue()
    assert "full token pull" in text
    assert "received        3" in text
    assert PullRun.objects.get().trigger == "command"


def test_the_command_fails_when_the_partner_fails(peer, source) -> None:
    peer.failing_requests = {1}
    with pytest.raises(CommandError, match="1 pull"):
        call_command("ocpi_sync", "--partner", str(source.pk), stdout=StringIO(), stderr=StringIO())


def test_the_scheduled_task_pulls_from_every_token_source(peer, source, outsider) -> None:
    connect(peer, parties=[outsider], tokens_sender=False, name="No tokens")
    peer.tokens = [token_json("04000001")]

    queued = pull_tokens()  # runs the per-partner pulls eagerly in tests

    assert queued == [source.pk]
    assert PullRun.objects.get().trigger == "schedule"
    assert Token.objects.count() == 1


def test_the_default_schedules_are_stored_for_beat(db) -> None:
    schedules = {
        task.name: task for task in PeriodicTask.objects.filter(task__startswith="roaming.")
    }
    incremental = schedules["OCPI token pull (incremental, every 5 minutes)"]
    assert (incremental.interval.every, incremental.interval.period) == (5, "minutes")
    assert incremental.kwargs == '{"full": false}'
    full = schedules["OCPI token pull (full, nightly)"]
    assert (full.crontab.hour, full.crontab.minute) == ("2", "30")
    sweeper = schedules["OCPI outbox sweeper (every 30 seconds)"]
    assert (sweeper.task, sweeper.interval.every, sweeper.interval.period) == (
        "roaming.sweep_outbox",
        30,
        "seconds",
    )


def test_a_full_pull_keeps_valid_the_listed_tokens_it_did_not_write(peer, source, emsp) -> None:
    rejected = TokenFactory.create(owner=emsp, uid="04000001")
    newer_here = TokenFactory.create(
        owner=emsp, uid="04000002", last_updated=datetime.fromisoformat("2026-06-01T00:00+00:00")
    )
    missing = TokenFactory.create(owner=emsp, uid="04000003")
    peer.tokens = [token_json("04000001", whitelist="SOMETIMES"), token_json("04000002")]

    run = tokens_pull(partner=source, full=True)

    assert (run.rejected, run.updated, run.invalidated) == (1, 0, 1)
    assert [Token.objects.get(pk=token.pk).valid for token in (rejected, newer_here, missing)] == [
        True,
        True,
        False,
    ]


def test_a_2_1_1_pull_keeps_what_the_version_cannot_say(peer, emsp) -> None:
    old = connect(peer, parties=[emsp], version=OcpiVersion.V2_1_1)
    stored = TokenFactory.create(
        owner=emsp,
        uid="04000001",
        group_id="FLEET7",
        default_profile_type="GREEN",
        energy_contract={"supplier_name": "Greenpower"},
        last_updated=datetime.fromisoformat("2026-01-01T00:00+00:00"),
    )
    token = token_json("04000001", valid=False)
    for key in ("country_code", "party_id", "contract_id"):
        del token[key]
    peer.tokens = [{**token, "auth_id": "DE-EMS-C00000001"}]

    run = tokens_pull(partner=old)

    stored.refresh_from_db()
    assert run.updated == 1
    assert (stored.valid, stored.contract_id) == (False, "DE-EMS-C00000001")
    assert (stored.group_id, stored.default_profile_type, stored.energy_contract) == (
        "FLEET7",
        "GREEN",
        {"supplier_name": "Greenpower"},
    )


def test_a_token_the_model_refuses_is_rejected_with_the_field_named(peer, source) -> None:
    peer.tokens = [token_json("04 000001"), token_json("04000002")]  # a uid with a space

    run = tokens_pull(partner=source)

    assert (run.created, run.rejected) == (1, 1)
    assert run.rejections[0]["errors"][0].startswith("uid:")
