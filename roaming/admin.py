"""Staff admin of roaming: parties, partner connections and their traffic, the push outbox, token
pulls and the partner health dashboard; and the owner field every admin of our CPO objects uses."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from roaming.choices import Role
from roaming.client import OcpiClientError
from roaming.credentials.handshake import CredentialsError
from roaming.credentials.serializers import our_versions_url
from roaming.credentials.services import (
    RegistrationStateError,
    partner_invite,
    partner_reactivate,
    partner_register,
    partner_rotate,
    partner_suspend,
    partner_unregister,
)
from roaming.health import partner_health
from roaming.models import (
    OUTBOX_OPEN_STATES,
    ExchangeLog,
    OutboxRow,
    Partner,
    PartnerEndpoint,
    PartnerHealth,
    PartnerState,
    Party,
    PullRun,
)
from roaming.ownership import OwnershipError, ensure_our_cpo
from roaming.pull.tokens import token_sources
from roaming.push.keys import url_suffix
from roaming.push.services import outbox_replay, outbox_retry, partner_resend_everything


def our_cpo_parties() -> QuerySet[Party]:
    """Our own identities that act as CPO (roles live in JSON, so the role check runs here)."""
    ours = Party.objects.ours()
    return ours.filter(pk__in=[party.pk for party in ours if party.is_our_cpo])


class OurCpoOwnerField(forms.ModelChoiceField):
    """Owner choice listing only our CPO identities; any other party gets the ownership message.

    The list alone would answer "select a valid choice" for a partner; staff should read why.
    """

    def to_python(self, value: Any) -> Party | None:
        try:
            return super().to_python(value)
        except ValidationError as error:
            party = self._party_or_none(value)
            if error.code != "invalid_choice" or party is None:
                raise
            try:
                ensure_our_cpo(party)
            except OwnershipError as ownership:
                raise ValidationError(ownership.messages, code="ownership") from ownership
            raise

    @staticmethod
    def _party_or_none(value: Any) -> Party | None:
        try:
            return Party.objects.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            return None


class OurCpoOwnerAdminMixin(BaseModelAdmin):
    """For admins of objects we own as a CPO: the owner is chosen among our CPO identities."""

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        if db_field.name == "owner":
            kwargs["form_class"] = OurCpoOwnerField
            kwargs["queryset"] = our_cpo_parties()
            cpo_count = kwargs["queryset"].count()
            if cpo_count == 1:
                kwargs["initial"] = kwargs["queryset"].first()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


_PARTY_CODE = re.compile(r"(?P<country>[A-Za-z]{2})[-*](?P<party>[A-Za-z0-9]{3})")


class RoleFilter(admin.SimpleListFilter):
    """Filter parties by one OCPI role (roles are a JSON list, matched as a quoted string)."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(role.value, str(role.label)) for role in Role]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in Role.values:
            return queryset
        return queryset.filter(roles__icontains=f'"{value}"')


class PartyForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="OCPI roles this party plays.",
    )
    website = forms.URLField(required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Party
        fields = ["country_code", "party_id", "name", "roles", "website"]

    # Codes are upper case in OCPI; accept what staff type.
    def clean_country_code(self) -> str:
        return str(self.cleaned_data["country_code"]).upper()

    def clean_party_id(self) -> str:
        return str(self.cleaned_data["party_id"]).upper()


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    """Partners are editable; our own identities come from settings and are read-only here."""

    form = PartyForm
    list_display = ("code", "name", "roles_display", "is_ours", "website", "created_at")
    list_display_links = ("code", "name")
    list_filter = ("is_ours", RoleFilter, "country_code")
    search_fields = ("name", "country_code", "party_id")
    ordering = ("country_code", "party_id")
    readonly_fields = ("is_ours", "created_at")
    show_full_result_count = False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # Staff know partners by their code as written everywhere: "DE-EMS" or "DE*EMS".
        code = _PARTY_CODE.fullmatch(search_term.strip())
        if code:
            return queryset.filter(
                country_code=code["country"].upper(), party_id=code["party"].upper()
            ), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="code", ordering="country_code")
    def code(self, obj: Party) -> str:
        return obj.code

    @admin.display(description="roles")
    def roles_display(self, obj: Party) -> str:
        return ", ".join(obj.roles)

    def get_readonly_fields(self, request: HttpRequest, obj: Party | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # Tokens, sessions and credentials refer to a partner by its code: it is fixed once saved.
        return (*self.readonly_fields, "country_code", "party_id")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if isinstance(obj, Party) and obj.is_ours:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if isinstance(obj, Party) and obj.is_ours:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # A bulk delete would not check each row against our own identities.
        actions.pop("delete_selected", None)
        return actions


# --- partner connections, their traffic, the push outbox and pulls (roaming.push, roaming.pull) ---


class PartnerEndpointInline(admin.TabularInline):
    """The endpoints the partner listed at registration (changed only by a credentials exchange)."""

    model = PartnerEndpoint
    fields = ("module", "role", "url")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyAdminMixin(BaseModelAdmin):
    """Records written by the system: staff look, filter and act, but do not edit."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class PartnerInviteForm(forms.Form):
    """A new partner connection: we hand out our versions URL and a token A."""

    name = forms.CharField(max_length=100)
    country_code = forms.RegexField(
        r"^[A-Za-z]{2}$", max_length=2, error_messages={"invalid": "Two letters, e.g. DE."}
    )
    party_id = forms.RegexField(
        r"^[A-Za-z0-9]{3}$", max_length=3, error_messages={"invalid": "Three letters or digits."}
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EMSP)


class PartnerRegisterForm(forms.Form):
    """Registering with a partner that gave us its versions URL and a token A."""

    versions_url = forms.URLField(max_length=255, assume_scheme="https")
    token = forms.CharField(max_length=255, widget=forms.PasswordInput, strip=True)
    name = forms.CharField(max_length=100, required=False, help_text="For staff; optional.")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    """Partner connections: state and version come from the credentials exchange, not from here."""

    list_display = (
        "name",
        "version",
        "state",
        "parties_display",
        "open_outbox",
        "last_delivered",
        "registered_at",
    )
    list_filter = ("state", "version")
    search_fields = ("name", "versions_url", "parties__country_code", "parties__party_id")
    readonly_fields = (
        "versions_url",
        "version",
        "state",
        "token_prefix",
        "parties",
        "registered_at",
        "created_at",
        "updated_at",
    )
    fields = ("name", *readonly_fields)
    inlines = (PartnerEndpointInline,)
    actions = (
        "resend_everything",
        "pull_tokens_recent",
        "pull_tokens_full",
        "suspend",
        "reactivate",
        "rotate_credentials",
        "unregister",
    )
    show_full_result_count = False
    change_list_template = "admin/roaming/partner/change_list.html"

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "invite/",
                self.admin_site.admin_view(self.invite_view),
                name="roaming_partner_invite",
            ),
            path(
                "register/",
                self.admin_site.admin_view(self.register_view),
                name="roaming_partner_register",
            ),
        ]
        return own + super().get_urls()

    def _connect_page(
        self, request: HttpRequest, title: str, form: forms.Form, **extra: Any
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            **extra,
        }
        return TemplateResponse(request, "admin/roaming/partner/connect.html", context)

    def invite_view(self, request: HttpRequest) -> TemplateResponse:
        """Create an invitation; its token A is shown on this page once and never again."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = PartnerInviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                partner, token = partner_invite(
                    name=data["name"],
                    country_code=data["country_code"].upper(),
                    party_id=data["party_id"].upper(),
                    role=Role(data["role"]),
                )
            except CredentialsError as error:
                form.add_error(None, error.message)
            else:
                return self._connect_page(
                    request,
                    "Partner invited",
                    form,
                    partner=partner,
                    invitation={"versions_url": our_versions_url(), "token": token},
                )
        return self._connect_page(request, "Invite a partner", form)

    def register_view(self, request: HttpRequest) -> TemplateResponse:
        """Register with a partner: we call its versions URL with its token A."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = PartnerRegisterForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                partner = partner_register(
                    versions_url=data["versions_url"], token=data["token"], name=data["name"]
                )
            except (CredentialsError, RegistrationStateError, OcpiClientError) as error:
                form.add_error(None, f"Registration failed: {getattr(error, 'message', error)}")
            else:
                self.message_user(request, f"Registered with {partner} on OCPI {partner.version}.")
                return self._connect_page(request, "Registered", form, partner=partner)
        return self._connect_page(request, "Register with a partner", form)

    @admin.action(description="Rotate credentials (new tokens both ways)")
    def rotate_credentials(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            try:
                partner_rotate(partner=partner)
            except (CredentialsError, RegistrationStateError, OcpiClientError) as error:
                message = getattr(error, "message", str(error))
                self.message_user(request, f"{partner}: {message}", messages.ERROR)
            else:
                self.message_user(request, f"{partner}: credentials rotated.")

    @admin.action(description="Unregister (end the connection)")
    def unregister(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            try:
                acknowledged = partner_unregister(partner=partner)
            except RegistrationStateError as error:
                self.message_user(request, f"{partner}: {error}", messages.ERROR)
                continue
            note = "" if acknowledged else " (the partner did not acknowledge)"
            self.message_user(request, f"{partner}: unregistered{note}.")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        open_rows = (
            OutboxRow.objects.filter(partner=OuterRef("pk"), state__in=OUTBOX_OPEN_STATES)
            .order_by()
            .values("partner")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("push_channel")
            .prefetch_related("parties")
            .annotate(open_outbox=Coalesce(Subquery(open_rows), 0))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Connections are made by invitation or registration (ocpi_invite / ocpi_register).
        return False

    @admin.display(description="parties")
    def parties_display(self, obj: Partner) -> str:
        return ", ".join(party.code for party in obj.parties.all())

    @admin.display(description="outbox (open)", ordering="open_outbox")
    def open_outbox(self, obj: Partner) -> SafeString:
        count = getattr(obj, "open_outbox", 0)
        url = reverse("admin:roaming_outboxrow_changelist")
        return format_html('<a href="{}?partner__id__exact={}">{}</a>', url, obj.pk, count)

    @admin.display(description="last delivered")
    def last_delivered(self, obj: Partner) -> Any:
        channel = getattr(obj, "push_channel", None)
        return channel.last_delivered_at if channel is not None else None

    @admin.action(
        description="Resend everything (all visible locations and tariffs)", permissions=["change"]
    )
    def resend_everything(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            if partner.state != PartnerState.REGISTERED:
                self.message_user(request, f"{partner}: not registered, skipped.", messages.WARNING)
                continue
            counts = partner_resend_everything(partner=partner)
            self.message_user(
                request,
                f"{partner}: {counts.locations} location(s) and {counts.tariffs} tariff(s) queued.",
                messages.SUCCESS,
            )

    def _pull(self, request: HttpRequest, queryset: QuerySet[Partner], *, full: bool) -> None:
        from roaming.tasks import pull_partner_tokens

        sources = {partner.pk for partner in token_sources()}
        for partner in queryset:
            if partner.pk not in sources:
                self.message_user(
                    request, f"{partner}: no tokens sender endpoint, skipped.", messages.WARNING
                )
                continue
            pull_partner_tokens.delay(partner.pk, full=full, trigger="admin")
            self.message_user(
                request,
                f"{partner}: token pull queued; see its pull runs for progress.",
                messages.SUCCESS,
            )

    @admin.action(description="Pull tokens changed since the last pull", permissions=["change"])
    def pull_tokens_recent(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._pull(request, queryset, full=False)

    @admin.action(description="Pull all tokens (full)", permissions=["change"])
    def pull_tokens_full(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._pull(request, queryset, full=True)

    @admin.action(description="Suspend (stop serving their requests)", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        done = 0
        for partner in queryset.filter(state=PartnerState.REGISTERED):
            partner_suspend(partner=partner)
            done += 1
        self.message_user(request, f"{done} connection(s) suspended.", messages.SUCCESS)

    @admin.action(description="Reactivate suspended connections", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        done = 0
        for partner in queryset.filter(state=PartnerState.SUSPENDED):
            partner_reactivate(partner=partner)
            done += 1
        self.message_user(request, f"{done} connection(s) reactivated.", messages.SUCCESS)


@admin.register(PartnerEndpoint)
class PartnerEndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "module", "role", "url")
    list_filter = ("module", "role", "partner")
    search_fields = ("partner__name", "url")
    list_select_related = ("partner",)


@admin.register(ExchangeLog)
class ExchangeLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every call we made to a partner, with the (truncated) bodies both ways."""

    list_display = (
        "created_at",
        "partner",
        "method",
        "url",
        "http_status",
        "ocpi_status",
        "duration_ms",
        "succeeded_display",
    )
    list_filter = ("partner", "method", "http_status", "ocpi_status")
    search_fields = ("url", "request_id", "correlation_id", "error")
    list_select_related = ("partner",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="ok", boolean=True)
    def succeeded_display(self, obj: ExchangeLog) -> bool:
        return obj.succeeded


@admin.register(OutboxRow)
class OutboxRowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Changes queued for partners: what was sent, what failed and what the partner answered."""

    list_display = (
        "id",
        "partner",
        "module",
        "operation",
        "object_key",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "finished_at",
        "short_error",
    )
    list_filter = ("state", "partner", "module", "kind", "operation")
    search_fields = ("object_key", "request_id", "last_error")
    list_select_related = ("partner",)
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ("retry_now", "replay")
    fields = (
        "partner",
        "module",
        "kind",
        "object_key",
        "object_id",
        "operation",
        "fields",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_attempt_at",
        "finished_at",
        "claimed_by",
        "lease_until",
        "outcome_unknown",
        "http_status",
        "ocpi_status",
        "last_error",
        "answer_display",
        "exchange_link",
        "remote_url",
        "superseded_by",
    )
    readonly_fields = fields

    @admin.display(description="last error")
    def short_error(self, obj: OutboxRow) -> str:
        return obj.last_error[:80]

    @admin.display(description="partner's answer")
    def answer_display(self, obj: OutboxRow) -> SafeString:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.partner_answer)

    @admin.display(description="exchange log")
    def exchange_link(self, obj: OutboxRow) -> SafeString | str:
        url = reverse("admin:roaming_exchangelog_changelist")
        if obj.request_id:
            return format_html('<a href="{}?q={}">{}</a>', url, obj.request_id, obj.request_id)
        # Deliveries keep no request id: their calls are found by the object's URL.
        path = url_suffix(obj.object_key)
        return format_html(
            '<a href="{}?q={}&amp;partner__id__exact={}">calls to {}</a>',
            url,
            path,
            obj.partner_id,
            path,
        )

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """Sending again is operations' job: those who may retry and replay outbox rows, or
        change partner connections altogether."""
        user = request.user
        return bool(
            user.has_perm("roaming.resend_outboxrow") or user.has_perm("roaming.change_partner")
        )

    @admin.action(description="Retry now (dead and retrying rows)", permissions=["resend"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxRow]) -> None:
        count = outbox_retry(rows=queryset)
        self.message_user(request, f"{count} row(s) queued again.", messages.SUCCESS)

    @admin.action(
        description="Replay (send the objects' current state again)", permissions=["resend"]
    )
    def replay(self, request: HttpRequest, queryset: QuerySet[OutboxRow]) -> None:
        result = outbox_replay(rows=queryset)
        self.message_user(request, f"{result.queued} replay(s) queued.", messages.SUCCESS)
        for reason in result.refused:
            self.message_user(request, reason, messages.WARNING)


@admin.register(PullRun)
class PullRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Token pulls: progress while running, counters and rejected objects afterwards."""

    list_display = (
        "started_at",
        "partner",
        "module",
        "full",
        "state",
        "received",
        "created",
        "updated",
        "rejected",
        "invalidated",
        "duration",
    )
    list_filter = ("state", "partner", "module", "full", "trigger")
    list_select_related = ("partner",)
    date_hierarchy = "started_at"
    show_full_result_count = False
    fields = (
        "partner",
        "module",
        "full",
        "trigger",
        "state",
        "date_from",
        "started_at",
        "finished_at",
        "received",
        "created",
        "updated",
        "rejected",
        "invalidated",
        "error",
        "rejections_display",
    )
    readonly_fields = fields

    @admin.display(description="duration")
    def duration(self, obj: PullRun) -> str:
        if obj.finished_at is None:
            return "running"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="rejected objects")
    def rejections_display(self, obj: PullRun) -> SafeString:
        return format_html(
            "<pre style='white-space: pre-wrap'>{}</pre>",
            json.dumps(obj.rejections, indent=2, ensure_ascii=False),
        )


@admin.register(PartnerHealth)
class PartnerHealthAdmin(admin.ModelAdmin):
    """The partner health dashboard, listed in the admin index under Roaming."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Partner health",
            "rows": partner_health(),
            "now": timezone.now(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/roaming/partner_health.html", context)
