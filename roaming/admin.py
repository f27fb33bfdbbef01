"""Staff admin of roaming parties, and the owner field every admin of our CPO objects uses."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from roaming.choices import Role
from roaming.models import Party
from roaming.ownership import OwnershipError, ensure_our_cpo


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
