"""Finance pages of the billing admin: credit CDRs, CDR exports, the settlement report, and the
tariff price preview. Each view checks its own permission and calls a billing service."""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from billing.cdrs import CdrError, cdr_credit
from billing.costing import breakdown, engine_tariff
from billing.exports import CdrFilter, csv_chunks, export_xlsx
from billing.forms import CdrExportForm, CreditCdrForm, PricePreviewForm, SettlementReportForm
from billing.models import CDR, Tariff
from billing.pricing import (
    ChargingPeriodInput,
    PeriodKind,
    SessionInputError,
    TariffError,
    price_session,
)
from billing.reports import bars, settlement_csv, settlement_report
from locations.models import Location
from roaming.modules.tariffs.serializers import tariff_snapshot, tariffs_for_ocpi

CREDIT_PERMISSION = "billing.issue_credit_cdr"
VIEW_CDR_PERMISSION = "billing.view_cdr"
VIEW_TARIFF_PERMISSION = "billing.view_tariff"
CHART_ROW_HEIGHT = 22


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


# --- issue credit CDRs (admin action with an intermediate page) ---------------------------------


def issue_credit_action(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[CDR]
) -> HttpResponse | None:
    """Ask for the reason (and optional corrections), then credit each selected CDR."""
    _require(request, CREDIT_PERMISSION)
    cdrs = list(queryset.select_related("owner", "emsp").order_by("start_date_time", "id"))
    form = CreditCdrForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        corrected = form.corrected()
        if corrected is not None and len(cdrs) != 1:
            form.add_error(None, "Corrected values can be given for one CDR at a time.")
        else:
            _credit_each(model_admin, request, cdrs, form.cleaned_data["reason"], corrected)
            return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Issue credit CDR",
        "opts": model_admin.model._meta,
        "cdrs": cdrs,
        "form": form,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "media": model_admin.media,
    }
    return TemplateResponse(request, "admin/billing/cdr/issue_credit.html", context)


def _credit_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    cdrs: list[CDR],
    reason: str,
    corrected: dict[str, Decimal] | None,
) -> None:
    for cdr in cdrs:
        try:
            credit, replacement = cdr_credit(cdr=cdr, reason=reason, corrected=corrected)
        except CdrError as exc:
            model_admin.message_user(request, f"{cdr.ocpi_id}: {exc}", messages.ERROR)
            continue
        text = f"Issued credit CDR {credit.ocpi_id} for {cdr.ocpi_id}"
        if replacement is not None:
            text += f" and corrected CDR {replacement.ocpi_id} ({replacement.total_cost} "
            text += f"{replacement.currency} before tax)"
        model_admin.message_user(request, text + ".", messages.SUCCESS)


# --- exports ------------------------------------------------------------------------------------------


def cdr_export_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponseBase:
    """The export page; with a valid filter in the query string, the file itself (streamed)."""
    _require(request, VIEW_CDR_PERMISSION)
    form = CdrExportForm(request.GET if "format" in request.GET else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        selection = CdrFilter(
            date_from=data["date_from"],
            date_to=data["date_to"],
            partner=data["partner"],
            country=data["country"],
            currency=data["currency"],
        )
        name = f"cdrs_{data['date_from']:%Y%m%d}_{data['date_to']:%Y%m%d}"
        if data["format"] == "xlsx":
            return _xlsx_response(selection, f"{name}.xlsx")
        response = StreamingHttpResponse(
            _encoded(csv_chunks(selection.queryset())), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Export CDRs",
        "opts": model_admin.model._meta,
        "form": form,
    }
    return TemplateResponse(request, "admin/billing/cdr/export.html", context)


def _encoded(chunks: Iterator[str]) -> Iterator[bytes]:
    # A byte order mark first, so spreadsheet programs read the file as UTF-8.
    yield "\ufeff".encode()
    for chunk in chunks:
        yield chunk.encode()


class _TemporaryFileResponse(FileResponse):
    """Streams a file from disk and removes it once the response is closed."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path.open("rb"), **kwargs)
        self._path = path

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._path.unlink(missing_ok=True)


def _xlsx_response(selection: CdrFilter, filename: str) -> HttpResponseBase:
    handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="cdr_export_")
    os.close(handle)
    path = Path(name)
    try:
        export_xlsx(selection.queryset(), path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return _TemporaryFileResponse(
        path,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


# --- settlement report --------------------------------------------------------------------------------


def settlement_report_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponseBase:
    """Per partner eMSP for one month: sessions, kWh, revenue, credits; charts and a CSV."""
    _require(request, VIEW_CDR_PERMISSION)
    today = timezone.now().date()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    form = SettlementReportForm(request.GET if "month" in request.GET else None)
    month = last_month
    if form.is_bound and form.is_valid():
        month = form.cleaned_data["month"]
    elif not form.is_bound:
        form = SettlementReportForm(initial={"month": last_month})
    rows = settlement_report(month=month)
    if request.GET.get("download") == "csv" and (not form.is_bound or form.is_valid()):
        response = HttpResponse(settlement_csv(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="settlement_{month:%Y-%m}.csv"'
        return response
    currencies = sorted({row.currency for row in rows})
    charts = []
    for currency in currencies:
        chart_bars = bars(rows, currency=currency, row_height=CHART_ROW_HEIGHT)
        charts.append(
            {
                "currency": currency,
                "bars": chart_bars,
                "height": max(len(chart_bars), 1) * CHART_ROW_HEIGHT,
                "rows": [row for row in rows if row.currency == currency],
            }
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Settlement report {month:%B %Y}",
        "opts": model_admin.model._meta,
        "form": form,
        "month": month,
        "charts": charts,
        "csv_query": f"month={month:%Y-%m}&download=csv",
    }
    return TemplateResponse(request, "admin/billing/cdr/settlement_report.html", context)


# --- tariff price preview -----------------------------------------------------------------------------


def _default_time_zone(tariff: Tariff) -> str:
    zone = (
        Location.objects.filter(owner=tariff.owner)
        .order_by("id")
        .values_list("time_zone", flat=True)
        .first()
    )
    return zone or "UTC"


def tariff_preview_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponseBase:
    """Price a made-up session under the tariff as it is saved now, element by element."""
    _require(request, VIEW_TARIFF_PERMISSION)
    tariff = get_object_or_404(tariffs_for_ocpi(Tariff.objects.all()), pk=object_id)
    now = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    initial = {
        "start": now.replace(tzinfo=None),
        "time_zone": _default_time_zone(tariff),
        "duration": 60,
        "parking": 0,
        "energy": Decimal("20"),
    }
    form = PricePreviewForm(request.GET if "energy" in request.GET else None, initial=initial)
    result = rows = error = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        snapshot = tariff_snapshot(tariff)
        zone = ZoneInfo(data["time_zone"])
        start = data["start"].replace(tzinfo=None).replace(tzinfo=zone)
        periods = [
            ChargingPeriodInput(
                start=start,
                seconds=Decimal(data["duration"] * 60),
                energy=data["energy"],
                max_power=data["max_power"],
            )
        ]
        if data.get("parking"):
            periods.append(
                ChargingPeriodInput(
                    start=start + datetime.timedelta(minutes=data["duration"]),
                    seconds=Decimal(data["parking"] * 60),
                    kind=PeriodKind.PARKING,
                )
            )
        try:
            result = price_session(engine_tariff(snapshot), periods, data["time_zone"])
            rows = breakdown(result, snapshot)
        except (TariffError, SessionInputError) as exc:
            error = str(exc)
    totals = []
    if result is not None:
        for label, name in (
            ("Total", "total_cost"),
            ("Fixed", "total_fixed_cost"),
            ("Energy", "total_energy_cost"),
            ("Time", "total_time_cost"),
            ("Parking", "total_parking_cost"),
        ):
            money = getattr(result, name)
            totals.append({"label": label, "excl": money.excl_tax, "incl": money.incl_tax})
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Price preview of tariff {tariff.ocpi_id}",
        "opts": model_admin.model._meta,
        "original": tariff,
        "tariff": tariff,
        "form": form,
        "result": result,
        "rows": rows,
        "totals": totals,
        "error": error,
        "change_url": reverse("admin:billing_tariff_change", args=[tariff.pk]),
    }
    return TemplateResponse(request, "admin/billing/tariff/price_preview.html", context)
