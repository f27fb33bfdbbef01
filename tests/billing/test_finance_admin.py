"""Finance pages of the admin: the credit action, exports, the settlement report, price preview."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from billing import cdrs as cdr_services
from billing.models import CDR
from tests.billing.cdr_helpers import staff_client, tariff_with
from tests.billing.factories import CDRFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:billing_cdr_changelist")
EXPORT = reverse("admin:billing_cdr_export")
SETTLEMENT = reverse("admin:billing_cdr_settlement")


@pytest.fixture(autouse=True)
def no_outbox(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(cdr_services, "push_cdr_created", lambda *, cdr: sent.append(cdr.ocpi_id))
    return sent


@pytest.fixture
def finance(django_user_model: Any) -> Client:
    return staff_client(django_user_model, "Finance")


@pytest.fixture
def operations(django_user_model: Any) -> Client:
    return staff_client(django_user_model, "Operations")


def _codenames(group: str) -> set[str]:
    return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))


def _credit_post(cdr: CDR, **fields: str) -> dict[str, Any]:
    return {"action": "issue_credit", "_selected_action": [str(cdr.pk)], **fields}


# --- credit action ----------------------------------------------------------------------------------


def test_finance_may_issue_credit_cdrs_and_operations_may_not() -> None:
    assert "issue_credit_cdr" in _codenames("Finance")
    assert "issue_credit_cdr" not in _codenames("Operations")


def test_finance_sees_the_credit_action(finance: Client) -> None:
    CDRFactory.create()

    assert "Issue credit CDR" in finance.get(CHANGELIST).content.decode()


def test_operations_does_not_see_the_credit_action(operations: Client) -> None:
    CDRFactory.create()

    assert "Issue credit CDR" not in operations.get(CHANGELIST).content.decode()


def test_operations_cannot_credit_by_posting_the_action(operations: Client) -> None:
    cdr = CDRFactory.create()

    operations.post(CHANGELIST, _credit_post(cdr, index="0", apply="1", reason="Because"))
    operations.post(CHANGELIST, _credit_post(cdr, apply="1", reason="Because"))

    assert not CDR.objects.filter(credit=True).exists()


def test_the_credit_action_first_asks_for_the_reason(finance: Client) -> None:
    cdr = CDRFactory.create()

    response = finance.post(CHANGELIST, _credit_post(cdr, index="0"))

    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    assert not CDR.objects.filter(credit=True).exists()


def test_the_credit_action_refuses_an_empty_reason(finance: Client) -> None:
    cdr = CDRFactory.create()

    response = finance.post(CHANGELIST, _credit_post(cdr, apply="1", reason="  "))

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not CDR.objects.filter(credit=True).exists()


def test_the_credit_action_issues_the_credit_cdr(finance: Client, no_outbox: list[str]) -> None:
    cdr = CDRFactory.create(ocpi_id="CDR-9")

    response = finance.post(CHANGELIST, _credit_post(cdr, apply="1", reason="Meter fault"))

    assert response.status_code == 302
    credit = CDR.objects.get(credit=True)
    assert (credit.ocpi_id, credit.credit_reference_id) == ("CDR-9-C1", "CDR-9")
    assert credit.total_cost == Decimal("-4.00")
    assert no_outbox == ["CDR-9-C1"]


def test_the_credit_action_issues_a_corrected_cdr_when_values_are_given(finance: Client) -> None:
    cdr = CDRFactory.create(
        ocpi_id="CDR-9",
        charging_periods=[
            {
                "start_date_time": "2026-03-02T09:30:00Z",
                "dimensions": [{"type": "TIME", "volume": 2}],
            }
        ],
    )

    finance.post(
        CHANGELIST,
        _credit_post(cdr, apply="1", reason="Too long", corrected_time="1", corrected_energy="5"),
    )

    corrected = CDR.objects.get(credit=False, remark__contains="CDR-9")
    # The factory's tariff copy: TIME 2.00 per hour, steps of 300 s.
    assert (corrected.total_cost, corrected.total_time) == (Decimal("2.00"), Decimal("1"))


def test_corrected_values_need_a_single_cdr(finance: Client) -> None:
    first, second = CDRFactory.create(), CDRFactory.create()
    data = _credit_post(first, apply="1", reason="Too long", corrected_time="1")
    data["_selected_action"] = [str(first.pk), str(second.pk)]

    response = finance.post(CHANGELIST, data)

    assert "one CDR at a time" in response.content.decode()
    assert not CDR.objects.filter(credit=True).exists()


# --- exports -----------------------------------------------------------------------------------------


def _export_query(file_format: str, **extra: str) -> dict[str, str]:
    return {"date_from": "2026-03-01", "date_to": "2026-03-31", "format": file_format, **extra}


def test_export_page_shows_the_filter_form(finance: Client) -> None:
    response = finance.get(EXPORT)

    assert response.status_code == 200
    assert 'name="partner"' in response.content.decode()


def test_export_streams_csv(finance: Client) -> None:
    CDRFactory.create(ocpi_id="CDR-IN")
    CDRFactory.create(
        ocpi_id="CDR-OUT",
        start_date_time=datetime.datetime(2026, 4, 2, tzinfo=datetime.UTC),
        end_date_time=datetime.datetime(2026, 4, 2, 1, tzinfo=datetime.UTC),
    )

    response = finance.get(EXPORT, _export_query("csv", partner="DE-EMS"))

    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    lines = text.splitlines()
    assert lines[0].startswith("CDR id,credit,credit reference,session id,partner")
    assert [line.split(",")[0] for line in lines[1:]] == ["CDR-IN"]


def test_export_sends_xlsx(finance: Client) -> None:
    CDRFactory.create(ocpi_id="CDR-IN")

    response = finance.get(EXPORT, _export_query("xlsx"))

    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    rows = list(load_workbook(io.BytesIO(content), read_only=True)["CDRs"].values)
    assert [row[0] for row in rows] == ["CDR id", "CDR-IN"]
    assert response["Content-Disposition"].startswith("attachment")


def test_export_is_forbidden_without_permission_to_view_cdrs(
    django_user_model: Any, client: Client
) -> None:
    user = django_user_model.objects.create_user(username="nobody", is_staff=True)
    client.force_login(user)

    assert client.get(EXPORT, _export_query("csv")).status_code == 403


# --- settlement report -------------------------------------------------------------------------------


def test_settlement_report_shows_partners_and_a_chart(finance: Client) -> None:
    CDRFactory.create()

    response = finance.get(SETTLEMENT, {"month": "2026-03"})

    content = response.content.decode()
    assert response.status_code == 200
    assert "DE-EMS" in content
    assert "<svg" in content
    assert "4.40" in content  # revenue after tax


def test_settlement_report_downloads_as_csv(finance: Client) -> None:
    CDRFactory.create()

    response = finance.get(SETTLEMENT, {"month": "2026-03", "download": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[1].startswith("DE-EMS,Example eMSP,EUR,1,")


# --- price preview -----------------------------------------------------------------------------------


def test_tariff_page_links_the_price_preview(operations: Client) -> None:
    tariff = tariff_with()
    preview = reverse("admin:billing_tariff_price_preview", args=[tariff.pk])

    page = operations.get(reverse("admin:billing_tariff_change", args=[tariff.pk]))

    assert preview in page.content.decode()


def test_price_preview_shows_what_each_element_charged(finance: Client) -> None:
    tariff = tariff_with()
    url = reverse("admin:billing_tariff_price_preview", args=[tariff.pk])

    response = finance.get(
        url,
        {
            "start": "2026-03-02T10:00",
            "time_zone": "Europe/Amsterdam",
            "duration": "60",
            "parking": "0",
            "energy": "20",
            "max_power": "11",
        },
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="breakdown"' in content
    assert "<td>ENERGY</td>" in content
    assert "<td>FLAT</td>" in content
    # 20 kWh * 0.25 = 5.00 + 0.50 flat; after tax 5.50 + 0.60.
    assert '<td class="num">5.50</td><td class="num">6.10</td>' in content


def test_price_preview_reports_a_bad_time_zone(finance: Client) -> None:
    tariff = tariff_with()
    url = reverse("admin:billing_tariff_price_preview", args=[tariff.pk])

    response = finance.get(
        url,
        {"start": "2026-03-02T10:00", "time_zone": "Mars/Olympus", "duration": "60", "energy": "1"},
    )

    assert "Unknown time zone" in response.content.decode()
    assert 'id="breakdown"' not in response.content.decode()
