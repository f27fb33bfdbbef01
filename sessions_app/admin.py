"""Staff admin of tokens, sessions and reservations: read-only views of what roaming and chargers
report (tokens arrive from eMSPs, sessions from our chargers, reservations from commands)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from sessions_app.models import (
    Command,
    Reservation,
    Session,
    SessionChargingPeriod,
    Token,
)


class ReadOnlyAdminMixin:
    """Staff may look, never add, change or delete: the source of truth is elsewhere."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Token)
class TokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Tokens partner eMSPs pushed or we pulled; changed only through roaming."""

    list_display = (
        "uid",
        "type",
        "contract_id",
        "owner",
        "issuer",
        "valid",
        "whitelist",
        "last_updated",
    )
    list_filter = ("valid", "type", "whitelist", "owner")
    search_fields = ("=uid", "=contract_id", "=visual_number", "=group_id")
    search_help_text = "Exact token UID, contract id, visual number or group id (any case)."
    list_select_related = ("owner",)
    show_full_result_count = False
    ordering = ("-last_updated", "-id")


class ChargingPeriodInline(admin.TabularInline):
    model = SessionChargingPeriod
    fields = ("start_date_time", "dimensions", "tariff_id")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class SessionCommandInline(admin.TabularInline):
    """The eMSP commands about a session: the START_SESSION that produced it, stops, profiles."""

    model = Command
    fields = ("command_type", "state", "result", "created_at", "result_sent_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Charging sessions at our EVSEs, with their charging periods."""

    list_display = (
        "ocpi_id",
        "status",
        "start_date_time",
        "end_date_time",
        "kwh",
        "token_uid",
        "evse",
        "emsp",
        "owner",
        "total_cost",
        "currency",
        "last_updated",
    )
    list_filter = ("status", "auth_method", "owner", "emsp", "currency")
    search_fields = (
        "=ocpi_id",
        "=cdr_token__uid",
        "=cdr_token__contract_id",
        "=evse__evse_id",
        "=authorization_reference",
    )
    search_help_text = (
        "Exact session id, token UID, contract id, EVSE id or authorization reference (any case)."
    )
    date_hierarchy = "start_date_time"
    list_select_related = ("owner", "emsp", "evse")
    show_full_result_count = False
    ordering = ("-start_date_time", "-id")
    raw_id_fields = ("token", "location", "evse", "connector")
    inlines = (ChargingPeriodInline, SessionCommandInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "ocpi_id",
                    "owner",
                    "status",
                    "start_date_time",
                    "end_date_time",
                    "kwh",
                    "last_updated",
                )
            },
        ),
        (
            "Driver",
            {
                "fields": (
                    "emsp",
                    "token",
                    "cdr_token",
                    "auth_method",
                    "authorization_reference",
                    "charging_preferences",
                )
            },
        ),
        ("Where", {"fields": ("location", "evse", "connector", "meter_id")}),
        ("Cost", {"fields": ("currency", "total_cost", "total_cost_taxes")}),
    )

    @admin.display(description="token UID")
    def token_uid(self, obj: Session) -> str:
        cdr_token: dict[str, Any] = obj.cdr_token or {}
        return str(cdr_token.get("uid", ""))


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Reservations made by partner eMSPs through the ReserveNow command."""

    list_display = (
        "reservation_id",
        "status",
        "emsp",
        "token",
        "location",
        "evse",
        "expiry_date",
        "session",
        "created_at",
    )
    list_filter = ("status", "emsp")
    search_fields = ("=reservation_id", "=token__uid", "=evse__evse_id", "=location__ocpi_id")
    search_help_text = "Exact reservation id, token UID, EVSE id or location id (any case)."
    date_hierarchy = "created_at"
    list_select_related = ("emsp", "token", "location", "evse", "session")
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    raw_id_fields = ("token", "location", "evse", "session")


@admin.register(Command)
class CommandAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """eMSPs' commands and charging profile requests: the charger's answer and the result POST."""

    list_display = (
        "id",
        "command_type",
        "emsp",
        "evse",
        "session",
        "authorization_reference",
        "state",
        "result",
        "created_at",
        "deadline",
        "result_sent_at",
        "result_error",
    )
    list_filter = ("state", "command_type", "result", "emsp")
    search_fields = ("=session__ocpi_id", "=evse__evse_id", "=location__ocpi_id")
    search_help_text = "Exact session id, EVSE id or location id."
    date_hierarchy = "created_at"
    list_select_related = ("emsp", "evse", "session")
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    raw_id_fields = ("partner", "location", "evse", "connector", "session", "reservation")

    @admin.display(description="authorization reference")
    def authorization_reference(self, obj: Command) -> str:
        """As the eMSP sent it; the session it produced carries the same."""
        request: dict[str, Any] = obj.request if isinstance(obj.request, dict) else {}
        return str(request.get("authorization_reference") or "")
