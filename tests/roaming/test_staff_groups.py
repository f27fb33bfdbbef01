"""Staff groups and the roaming records (roaming migration 0007): who sees and who resends."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from roaming.choices import ModuleID
from roaming.models import OutboxKind, OutboxOperation, OutboxRow, OutboxState, Partner
from tests.roaming.conftest import make_partner

ROAMING_RECORDS = {
    "roaming.view_outboxrow",
    "roaming.view_partnerhealth",
    "roaming.view_exchangelog",
    "roaming.view_pullrun",
    "roaming.view_pushchannel",
    "roaming.view_pushstats",
    "roaming.view_deliveredobject",
    "roaming.view_synccursor",
    "roaming.view_hubclientinfo",
    "roaming.view_partner",
}


def _codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def _member(django_user_model: Any, group_name: str) -> Client:
    user = django_user_model.objects.create_user(
        username=group_name.lower(), password="not-used", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group_name))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def partner(db: None) -> Partner:
    return make_partner(name="Some eMSP")[0]


@pytest.fixture
def dead_row(partner: Partner) -> OutboxRow:
    return OutboxRow.objects.create(
        partner=partner,
        module=ModuleID.LOCATIONS,
        kind=OutboxKind.EVSE,
        object_id=1,
        object_key="locations/NL/OPN/L1/E1",
        operation=OutboxOperation.PATCH,
        fields=["status"],
        state=OutboxState.DEAD,
        last_error="HTTP 400",
    )


def _offered_actions(client: Client) -> set[str]:
    response = client.get(reverse("admin:roaming_outboxrow_changelist"))
    assert response.status_code == 200
    form = response.context["action_form"]
    return {name for name, _ in form.fields["action"].choices} if form is not None else set()


def _retry(client: Client, row: OutboxRow) -> None:
    client.post(
        reverse("admin:roaming_outboxrow_changelist"),
        {"action": "retry_now", ACTION_CHECKBOX_NAME: [str(row.pk)]},
    )


def test_operations_sees_every_roaming_record_and_the_audit_trail_and_resends(db: None) -> None:
    perms = _codenames("Operations")

    assert ROAMING_RECORDS | {"auditlog.view_logentry", "roaming.resend_outboxrow"} <= perms
    assert "roaming.change_partner" not in perms
    assert not {p for p in perms if p.startswith("roaming.") and ".delete_" in p}


def test_read_only_sees_every_roaming_record_and_the_audit_trail_only(db: None) -> None:
    perms = _codenames("Read-only")

    assert ROAMING_RECORDS | {"auditlog.view_logentry"} <= perms
    assert all(".view_" in p for p in perms)


def test_finance_sees_the_outbox_its_partners_and_the_audit_trail(db: None) -> None:
    perms = _codenames("Finance")

    assert {"roaming.view_outboxrow", "roaming.view_partner", "auditlog.view_logentry"} <= perms
    assert "roaming.view_exchangelog" not in perms
    assert "roaming.resend_outboxrow" not in perms
    assert all(".view_" in p for p in perms - {"billing.issue_credit_cdr"})


def test_operations_retries_a_dead_row_from_the_outbox(
    django_user_model: Any, dead_row: OutboxRow
) -> None:
    operations = _member(django_user_model, "Operations")
    assert {"retry_now", "replay"} <= _offered_actions(operations)

    _retry(operations, dead_row)

    dead_row.refresh_from_db()
    assert dead_row.state == OutboxState.PENDING


def test_read_only_cannot_retry_a_dead_row(django_user_model: Any, dead_row: OutboxRow) -> None:
    read_only = _member(django_user_model, "Read-only")
    assert not _offered_actions(read_only) & {"retry_now", "replay"}

    _retry(read_only, dead_row)

    dead_row.refresh_from_db()
    assert dead_row.state == OutboxState.DEAD


@pytest.mark.parametrize(
    ("group", "status"), [("Operations", 200), ("Read-only", 200), ("Finance", 403)]
)
def test_the_health_dashboard_is_for_operations_and_read_only(
    django_user_model: Any, partner: Partner, group: str, status: int
) -> None:
    client = _member(django_user_model, group)

    response = client.get(reverse("admin:roaming_partnerhealth_changelist"))

    assert response.status_code == status


@pytest.mark.parametrize("group", ["Operations", "Read-only", "Finance"])
def test_every_group_reads_the_audit_trail(django_user_model: Any, group: str) -> None:
    client = _member(django_user_model, group)

    response = client.get(reverse("admin:auditlog_logentry_changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["exchangelog", "pullrun", "outboxrow"])
def test_operations_opens_the_traffic_lists(django_user_model: Any, db: None, model: str) -> None:
    client = _member(django_user_model, "Operations")

    assert client.get(reverse(f"admin:roaming_{model}_changelist")).status_code == 200
