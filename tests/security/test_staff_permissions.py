"""Staff groups against the admin: Finance cannot edit tariffs, nobody edits a CDR, Operations
cannot issue credit CDRs (tests/locations/test_staff_groups.py covers the rest of the matrix)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from billing.models import CDR, Tariff
from tests.billing.factories import CDRFactory, TariffElementFactory, TariffFactory

GROUPS = ["Operations", "Finance", "Read-only"]


def _member(django_user_model: Any, group_name: str | None) -> Any:
    """A staff user in `group_name`, or a superuser for None."""
    username = (group_name or "root").lower()
    if group_name is None:
        return django_user_model.objects.create_superuser(username=username, password="not-used")
    user = django_user_model.objects.create_user(
        username=username, password="not-used", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group_name))
    return user


def _client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def finance(db: None, django_user_model: Any) -> Client:
    return _client_for(_member(django_user_model, "Finance"))


@pytest.mark.parametrize("group_name", [*GROUPS, None], ids=[*GROUPS, "superuser"])
def test_nobody_can_change_a_cdr_in_the_admin(
    db: None, django_user_model: Any, group_name: str | None
) -> None:
    cdr = CDRFactory.create(remark="as sent")
    client = _client_for(_member(django_user_model, group_name))

    response = client.post(reverse("admin:billing_cdr_change", args=[cdr.pk]), {"remark": "edited"})

    assert response.status_code == 403
    cdr.refresh_from_db()
    assert cdr.remark == "as sent"


@pytest.mark.parametrize("group_name", [*GROUPS, None], ids=[*GROUPS, "superuser"])
def test_nobody_can_delete_a_cdr_in_the_admin(
    db: None, django_user_model: Any, group_name: str | None
) -> None:
    cdr = CDRFactory.create()
    client = _client_for(_member(django_user_model, group_name))

    response = client.post(reverse("admin:billing_cdr_delete", args=[cdr.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert CDR.objects.filter(pk=cdr.pk).exists()


def test_finance_cannot_add_a_tariff(finance: Client) -> None:
    assert finance.get(reverse("admin:billing_tariff_add")).status_code == 403


def test_finance_cannot_delete_a_tariff(finance: Client) -> None:
    tariff = TariffFactory.create()

    response = finance.post(
        reverse("admin:billing_tariff_delete", args=[tariff.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Tariff.objects.active().filter(pk=tariff.pk).exists()


@pytest.mark.parametrize(
    "permission",
    ["billing.change_tariff", "billing.change_tariffelement", "billing.change_pricecomponent"],
)
def test_finance_holds_no_tariff_edit_permission(
    db: None, django_user_model: Any, permission: str
) -> None:
    user = _member(django_user_model, "Finance")

    assert not user.has_perm(permission)


def test_read_only_cannot_post_the_tariff_change_form(db: None, django_user_model: Any) -> None:
    tariff = TariffFactory.create(currency="EUR")
    TariffElementFactory.create(tariff=tariff)
    client = _client_for(_member(django_user_model, "Read-only"))

    response = client.post(
        reverse("admin:billing_tariff_change", args=[tariff.pk]), {"currency": "USD"}
    )

    assert response.status_code == 403
    tariff.refresh_from_db()
    assert tariff.currency == "EUR"


def test_operations_may_not_issue_credit_cdrs(db: None, django_user_model: Any) -> None:
    user = _member(django_user_model, "Operations")

    assert not user.has_perm("billing.issue_credit_cdr")


def test_finance_may_issue_credit_cdrs(db: None, django_user_model: Any) -> None:
    user = _member(django_user_model, "Finance")

    assert user.has_perm("billing.issue_credit_cdr")


def test_operations_cannot_run_the_credit_action(db: None, django_user_model: Any) -> None:
    cdr = CDRFactory.create()
    client = _client_for(_member(django_user_model, "Operations"))

    client.post(
        reverse("admin:billing_cdr_changelist"),
        {"action": "issue_credit", "_selected_action": [str(cdr.pk)], "apply": "1", "reason": "x"},
    )

    assert not CDR.objects.filter(credit=True).exists()
