"""Staff admin of billing: tariffs edited on one page (elements and price components nested), and
CDRs as a read-only ledger."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import nested_admin
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.text import capfirst

from billing import admin_views
from billing.forms import (
    PriceComponentFormSet,
    TariffElementForm,
    TariffElementFormSet,
    TariffForm,
)
from billing.models import CDR, PriceComponent, Tariff, TariffElement
from billing.services import tariff_save_from_admin
from cpms.money import amount_incl_taxes
from roaming.push.services import push_tariff_changed, push_tariff_deleted

# --- Tariffs -----------------------------------------------------------------------------------


class PriceComponentInline(nested_admin.SortableHiddenMixin, nested_admin.NestedTabularInline):
    model = PriceComponent
    formset = PriceComponentFormSet
    fields = ("position", "type", "price", "vat", "step_size")
    sortable_field_name = "position"
    extra = 0
    min_num = 1
    verbose_name = "price component"


class TariffElementInline(nested_admin.SortableHiddenMixin, nested_admin.NestedStackedInline):
    model = TariffElement
    form = TariffElementForm
    formset = TariffElementFormSet
    inlines = [PriceComponentInline]
    sortable_field_name = "position"
    extra = 0
    min_num = 1
    fieldsets = (
        (
            "Restrictions (all must match; empty ones always match)",
            {
                "fields": (
                    "position",
                    ("start_time", "end_time"),
                    ("start_date", "end_date"),
                    "day_of_week",
                    ("min_kwh", "max_kwh"),
                    ("min_current", "max_current"),
                    ("min_power", "max_power"),
                    ("min_duration", "max_duration"),
                    ("reservation", "booking"),
                ),
                "description": "Local time of the location. Per dimension the first element "
                "(top to bottom; drag to reorder) whose restrictions match is used: end the list "
                "with an element without restrictions as the default.",
            },
        ),
    )


class DeletedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("deleted", "Deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Tariff)
class TariffAdmin(nested_admin.NestedModelAdmin):
    form = TariffForm
    inlines = [TariffElementInline]
    list_display = (
        "ocpi_id",
        "owner",
        "currency",
        "type",
        "tax_included",
        "element_count",
        "last_updated",
        "is_deleted",
    )
    list_filter = ("owner", "currency", "type", "tax_included", DeletedFilter, "last_updated")
    search_fields = ("ocpi_id", "tariff_alt_url")
    list_select_related = ("owner",)
    readonly_fields = ("last_updated", "deleted_at")
    actions = ["restore_tariffs"]
    fieldsets = (
        (None, {"fields": ("owner", "ocpi_id", "currency", "type", "tax_included")}),
        (
            "Price limits",
            {
                "fields": (
                    ("min_price_before_taxes", "min_price_after_taxes"),
                    ("max_price_before_taxes", "max_price_after_taxes"),
                    "preauthorize_amount",
                ),
                "description": "The total of a session is kept between these amounts.",
            },
        ),
        ("Validity", {"fields": (("start_date_time", "end_date_time"),)}),
        (
            "Information for drivers",
            {
                "fields": ("tariff_alt_text", "tariff_alt_url", "energy_mix"),
                "classes": ("collapse",),
            },
        ),
        ("Status", {"fields": ("last_updated", "deleted_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Tariff | None = None) -> Any:
        """Partners know a tariff by owner and id, so both are fixed once it exists."""
        fixed = ("owner", "ocpi_id") if obj is not None else ()
        return (*fixed, *super().get_readonly_fields(request, obj))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tariff]:
        return super().get_queryset(request).annotate(element_count=Count("elements"))

    @admin.display(description="elements", ordering="element_count")
    def element_count(self, obj: Tariff) -> int:
        return obj.element_count  # type: ignore[attr-defined]

    @admin.display(description="deleted", boolean=True, ordering="deleted_at")
    def is_deleted(self, obj: Tariff) -> bool:
        return obj.is_deleted

    def save_model(self, request: HttpRequest, obj: Tariff, form: Any, change: bool) -> None:
        """Saved in save_related, together with its elements, by tariff_save_from_admin."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The admin's change view is one transaction: the outbox rows commit with the edit.
        tariff = tariff_save_from_admin(
            tariff=form.instance,
            save_elements=partial(super().save_related, request, form, formsets, change),
        )
        push_tariff_changed(tariff=tariff)

    def delete_model(self, request: HttpRequest, obj: Tariff) -> None:
        with transaction.atomic():
            obj.delete()
            push_tariff_deleted(tariff=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tariff]) -> None:
        with transaction.atomic():
            for tariff in queryset.filter(deleted_at__isnull=True).select_related("owner"):
                tariff.delete()
                push_tariff_deleted(tariff=tariff)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Deleting keeps the tariff (marked deleted), so only the tariffs themselves are listed."""
        opts = self.model._meta
        listed = [format_html("{}: {}", capfirst(opts.verbose_name), obj) for obj in objs]
        perms_needed = set() if self.has_delete_permission(request) else {opts.verbose_name}
        return listed, {opts.verbose_name_plural: len(listed)}, perms_needed, []

    @admin.action(description="Restore selected deleted tariffs")
    def restore_tariffs(self, request: HttpRequest, queryset: QuerySet[Tariff]) -> None:
        restored = 0
        with transaction.atomic():
            for tariff in queryset.filter(deleted_at__isnull=False).select_related("owner"):
                tariff.restore()
                push_tariff_changed(tariff=tariff)
                restored += 1
        self.message_user(request, f"Restored {restored} tariff(s).", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        preview = path(
            "<path:object_id>/price-preview/",
            self.admin_site.admin_view(partial(admin_views.tariff_preview_view, self)),
            name="billing_tariff_price_preview",
        )
        return [preview, *super().get_urls()]


# --- CDRs --------------------------------------------------------------------------------------


def _pretty_json(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(CDR)
class CDRAdmin(admin.ModelAdmin):
    """Read-only for everyone: a CDR is corrected only by a credit CDR, never edited."""

    list_display = (
        "ocpi_id",
        "owner",
        "emsp",
        "start_date_time",
        "end_date_time",
        "currency",
        "total_cost",
        "total_cost_incl_taxes",
        "total_energy",
        "total_time",
        "credit",
    )
    list_filter = (
        "owner",
        "emsp",
        "currency",
        "credit",
        ("start_date_time", admin.DateFieldListFilter),
    )
    search_fields = (
        "ocpi_id",
        "ocpi_session_id",
        "cdr_token__uid",
        "cdr_location__evse_id",
    )
    date_hierarchy = "start_date_time"
    list_select_related = ("owner", "emsp")
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("ocpi_id", "owner", "emsp", "credit", "credit_reference_id")}),
        (
            "Session",
            {
                "fields": (
                    ("start_date_time", "end_date_time"),
                    "session",
                    "ocpi_session_id",
                    "booking_id",
                    "auth_method",
                    "authorization_reference",
                    "cdr_token_display",
                ),
            },
        ),
        ("Location", {"fields": ("location", "cdr_location_display", "meter_id")}),
        (
            "Totals",
            {
                "fields": (
                    "currency",
                    ("total_cost", "total_cost_taxes"),
                    ("total_fixed_cost", "total_fixed_cost_taxes"),
                    ("total_energy_cost", "total_energy_cost_taxes"),
                    ("total_time_cost", "total_time_cost_taxes"),
                    ("total_parking_cost", "total_parking_cost_taxes"),
                    ("total_reservation_cost", "total_reservation_cost_taxes"),
                    "total_energy",
                    "total_time",
                    "total_parking_time",
                ),
            },
        ),
        (
            "Details",
            {
                "fields": (
                    "charging_periods_display",
                    "tariffs_display",
                    "signed_data_display",
                    "remark",
                    "invoice_reference_id",
                    "home_charging_compensation",
                    "last_updated",
                    "created_at",
                ),
            },
        ),
    )
    readonly_fields = (
        "cdr_token_display",
        "cdr_location_display",
        "charging_periods_display",
        "tariffs_display",
        "signed_data_display",
    )

    actions = ["issue_credit"]

    def has_issue_credit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(admin_views.CREDIT_PERMISSION)

    @admin.action(description="Issue credit CDR", permissions=["issue_credit"])
    def issue_credit(self, request: HttpRequest, queryset: QuerySet[CDR]) -> HttpResponse | None:
        return admin_views.issue_credit_action(self, request, queryset)

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(partial(function, self))

        return [
            path("export/", view(admin_views.cdr_export_view), name="billing_cdr_export"),
            path(
                "settlement/",
                view(admin_views.settlement_report_view),
                name="billing_cdr_settlement",
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="total incl. taxes")
    def total_cost_incl_taxes(self, obj: CDR) -> Any:
        return amount_incl_taxes(obj.total_cost, obj.total_cost_taxes)

    @admin.display(description="CDR token")
    def cdr_token_display(self, obj: CDR) -> str:
        return _pretty_json(obj.cdr_token)

    @admin.display(description="CDR location")
    def cdr_location_display(self, obj: CDR) -> str:
        return _pretty_json(obj.cdr_location)

    @admin.display(description="charging periods")
    def charging_periods_display(self, obj: CDR) -> str:
        return _pretty_json(obj.charging_periods)

    @admin.display(description="tariffs (as they were)")
    def tariffs_display(self, obj: CDR) -> str:
        return _pretty_json(obj.tariffs)

    @admin.display(description="signed data")
    def signed_data_display(self, obj: CDR) -> str:
        return _pretty_json(obj.signed_data)
