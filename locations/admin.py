"""Staff admin of locations, EVSEs and connectors: the screens operations staff work in daily."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import BaseModelAdmin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from locations.choices import (
    Capability,
    ConnectorCapability,
    Facility,
    ParkingRestriction,
    Status,
)
from locations.models import EVSE, Connector, Location
from locations.services import evse_set_status, location_set_published
from roaming.admin import OurCpoOwnerAdminMixin
from roaming.push.services import EVSE_PATCH_FIELDS, push_location_changed

# Examples shown under the JSON fields, so staff see the expected shape without the spec at hand.
JSON_EXAMPLES: dict[str, Any] = {
    "publish_allowed_to": [{"uid": "DE8ACC12E46L89", "type": "RFID"}, {"group_id": "FLEET-17"}],
    "related_locations": [
        {
            "latitude": "52.370216",
            "longitude": "4.895168",
            "name": {"language": "en", "text": "Entrance Damrak"},
        }
    ],
    "parking_places": [
        {
            "id": "P1",
            "vehicle_types": ["PERSONAL_VEHICLE"],
            "restricted_to_type": False,
            "reservation_required": False,
        }
    ],
    "directions": [{"language": "en", "text": "Level -1, follow the green signs."}],
    "operator": {"name": "Open CPMS", "website": "https://example.org"},
    "suboperator": {"name": "City Parking Ltd"},
    "owner_details": {"name": "Hotel Central"},
    "opening_times": {
        "twentyfourseven": False,
        "regular_hours": [{"weekday": 1, "period_begin": "07:00", "period_end": "22:00"}],
        "exceptional_closings": [
            {"period_begin": "2025-12-25T00:00:00Z", "period_end": "2025-12-26T00:00:00Z"}
        ],
    },
    "images": [{"url": "https://example.org/site.jpg", "category": "LOCATION", "type": "jpeg"}],
    "energy_mix": {
        "is_green_energy": True,
        "energy_sources": [
            {"source": "WIND", "percentage": 60},
            {"source": "SOLAR", "percentage": 40},
        ],
    },
    "status_schedule": [
        {
            "period_begin": "2025-06-01T08:00:00Z",
            "period_end": "2025-06-01T17:00:00Z",
            "status": "INOPERATIVE",
        }
    ],
    "parking": [{"parking_id": "P1", "evse_position": "LEFT"}],
    "accepted_service_providers": ["NL*ABC", "DE*XYZ"],
    "tariff_ids": ["AC-STANDARD"],
}

_CHOICE_LISTS: dict[str, type[models.TextChoices]] = {
    "facilities": Facility,
    "capabilities": Capability,
    "parking_restrictions": ParkingRestriction,
}


class JSONOrDefaultField(forms.JSONField):
    """An emptied JSON box means the field's default (e.g. []), not the NULL the column refuses."""

    def __init__(self, *, empty_default: Callable[[], Any], **kwargs: Any) -> None:
        self.empty_default = empty_default
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if not self.disabled and value in self.empty_values:
            return self.empty_default()
        return super().to_python(value)


def _with_example(field_name: str, formfield: forms.Field) -> forms.Field:
    example = JSON_EXAMPLES.get(field_name)
    if example is not None:
        formfield.help_text = format_html(
            "{} Example: <code>{}</code>", formfield.help_text or "", json.dumps(example)
        )
    return formfield


def _choice_list_field(choices: type[models.TextChoices], db_field: Any) -> forms.Field:
    return forms.MultipleChoiceField(
        choices=choices.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=str(db_field.verbose_name).capitalize(),
        initial=db_field.get_default,
    )


class JsonFieldsAdminMixin(BaseModelAdmin):
    """Enum lists as checkboxes, other JSON value objects as JSON with an example below."""

    choice_lists: dict[str, type[models.TextChoices]] = _CHOICE_LISTS

    def formfield_for_dbfield(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if db_field.name in self.choice_lists:
            return _choice_list_field(self.choice_lists[db_field.name], db_field)
        if isinstance(db_field, models.JSONField) and not db_field.null and db_field.has_default():
            kwargs.update(form_class=JSONOrDefaultField, empty_default=db_field.get_default)
        if isinstance(db_field, models.URLField):
            # Staff type "example.org/terms"; OCPI URLs are https (Django 6 default already).
            kwargs.setdefault("assume_scheme", "https")
        formfield: forms.Field | None = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and isinstance(db_field, models.JSONField):
            if isinstance(formfield.widget, forms.Textarea):
                formfield.widget.attrs.update(rows=3, cols=80)
            _with_example(db_field.name, formfield)
        return formfield


def _confirm_removal(
    request: HttpRequest,
    modeladmin: admin.ModelAdmin,
    *,
    selected: QuerySet[Any],
    evses: QuerySet[EVSE],
    action: str,
) -> TemplateResponse:
    """Ask once before EVSEs are removed: partners will drop them and it cannot be undone."""
    opts = modeladmin.model._meta
    return TemplateResponse(
        request,
        "admin/locations/evse_remove_confirmation.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Mark EVSEs as removed?",
            "opts": opts,
            "action": action,
            "selected_pks": [str(pk) for pk in selected.values_list("pk", flat=True)],
            "evses": evses.select_related("location"),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": modeladmin.media,
        },
    )


def _evses_removed(request: HttpRequest, modeladmin: Any, evses: QuerySet[EVSE]) -> None:
    changed = evse_set_status(evses=evses, status=Status.REMOVED)
    modeladmin.message_user(
        request, f"{changed} EVSE(s) marked as removed; partners will be told.", messages.SUCCESS
    )


def _saved_rows(formsets: Any) -> list[tuple[Any, list[str] | None]]:
    """Rows the inline formsets created (fields None) or changed (the changed fields)."""
    rows: list[tuple[Any, list[str] | None]] = []
    for formset in formsets:
        rows += [(obj, None) for obj in formset.new_objects]
        rows += [(obj, list(fields)) for obj, fields in formset.changed_objects]
    return rows


def _status_only(fields: list[str] | None) -> list[str] | None:
    """The changed fields when a status update (a PATCH for partners) says it all, else None."""
    if fields and set(fields) <= EVSE_PATCH_FIELDS:
        return fields
    return None


class KeepIdentifierForm(forms.ModelForm):
    """Inline row form whose identifier is fixed once saved (partners know the object by it)."""

    identifier_field = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.identifier_field in self.fields:
            self.fields[self.identifier_field].disabled = True


class EVSEInlineForm(KeepIdentifierForm):
    identifier_field = "uid"


class ConnectorInlineForm(KeepIdentifierForm):
    identifier_field = "ocpi_id"


class UniqueIdInlineFormSet(BaseInlineFormSet):
    """Catches two new rows with the same id (ignoring case) before the database refuses them.

    The unique constraint is case-insensitive (an expression), which Django's formset uniqueness
    check does not cover; each row is still checked against saved rows by the model.
    """

    id_field = ""

    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            value = form.cleaned_data.get(self.id_field)
            if not value:
                continue
            if value.lower() in seen:
                label = form.fields[self.id_field].label
                raise ValidationError(
                    f"Two rows share the {label} {value!r}; it must be unique here (any case)."
                )
            seen.add(value.lower())


class EVSEInlineFormSet(UniqueIdInlineFormSet):
    id_field = "uid"


class ConnectorInlineFormSet(UniqueIdInlineFormSet):
    id_field = "ocpi_id"


def _count_of(model: type[models.Model], fk: str, **exclude: Any) -> Coalesce:
    """A per-row count as a subquery: a join would be multiplied by list filters on the same
    relation."""
    counted = (
        model._default_manager.filter(**{fk: OuterRef("pk")})
        .exclude(**exclude)
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class EVSEInline(admin.TabularInline):
    """EVSEs of a location; connectors are edited on the EVSE's own page (link per row)."""

    model = EVSE
    form = EVSEInlineForm
    formset = EVSEInlineFormSet
    fields = (
        "uid",
        "evse_id",
        "status",
        "physical_reference",
        "floor_level",
        "connector_summary",
        "last_updated",
    )
    readonly_fields = ("connector_summary", "last_updated")
    extra = 0
    show_change_link = True
    # EVSEs are never deleted: removal is a status, set here or with the EVSE actions.
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[EVSE]:
        return super().get_queryset(request).prefetch_related("connectors")

    @admin.display(description="connectors")
    def connector_summary(self, obj: EVSE) -> str:
        if obj.pk is None:
            return "Save, then add connectors on the EVSE page."
        connectors = list(obj.connectors.all())
        if not connectors:
            return "None yet: open the EVSE to add them."
        return "; ".join(
            f"#{c.ocpi_id} {c.standard} {c.power_type} {c.max_electric_power or c.max_voltage * c.max_amperage} W"
            for c in connectors
        )


@admin.register(Location)
class LocationAdmin(OurCpoOwnerAdminMixin, JsonFieldsAdminMixin, admin.ModelAdmin):
    """Charging sites with their EVSEs; publishing and EVSE status as bulk actions."""

    list_display = (
        "ocpi_id",
        "name",
        "city",
        "country",
        "owner",
        "publish",
        "evse_count",
        "last_updated",
    )
    list_display_links = ("ocpi_id", "name")
    search_fields = ("name", "city", "ocpi_id", "evses__evse_id", "evses__uid")
    list_filter = (
        "country",
        "publish",
        "owner",
        "evses__status",
        "evses__connectors__power_type",
    )
    list_select_related = ("owner",)
    show_full_result_count = False
    ordering = ("-last_updated", "-id")
    inlines = (EVSEInline,)
    readonly_fields = ("map_link", "last_updated")
    actions = ("publish", "unpublish", "mark_evses_out_of_order", "mark_evses_removed")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "owner",
                    "ocpi_id",
                    "name",
                    "publish",
                    "publish_allowed_to",
                    "last_updated",
                )
            },
        ),
        (
            "Address",
            {"fields": ("address", "city", "postal_code", "state", "country", "time_zone")},
        ),
        (
            "Coordinates",
            {"fields": ("latitude", "longitude", "map_link", "related_locations", "directions")},
        ),
        ("Business details", {"fields": ("operator", "suboperator", "owner_details")}),
        ("Site", {"fields": ("parking_type", "facilities", "images", "energy_mix")}),
        ("Opening hours", {"fields": ("opening_times", "charging_when_closed")}),
        ("OCPI 2.3.0", {"fields": ("parking_places", "help_phone"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        # Removed EVSEs stay in the database for partners but are not part of the site any more.
        live_evses = _count_of(EVSE, "location", status=Status.REMOVED)
        return super().get_queryset(request).annotate(evse_count=live_evses)

    def get_readonly_fields(self, request: HttpRequest, obj: Location | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # The OCPI id and owner are the object's key at every partner: fixed once created.
        return (*self.readonly_fields, "owner", "ocpi_id")

    @admin.display(description="EVSEs", ordering="evse_count")
    def evse_count(self, obj: Location) -> int:
        return getattr(obj, "evse_count", 0)

    @admin.display(description="map")
    def map_link(self, obj: Location) -> SafeString | str:
        if obj.latitude is None or obj.longitude is None:
            return "Save coordinates to see the map."
        lat, lon = obj.latitude, obj.longitude
        return format_html(
            '<a href="https://www.openstreetmap.org/?mlat={}&amp;mlon={}#map=17/{}/{}" '
            'target="_blank" rel="noopener">Open {}, {} in OpenStreetMap</a>',
            lat,
            lon,
            lat,
            lon,
            lat,
            lon,
        )

    @admin.action(description="Publish selected locations to all partners", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Location]) -> None:
        changed = location_set_published(locations=queryset.select_related("owner"), publish=True)
        self.message_user(request, f"{changed} location(s) published.", messages.SUCCESS)

    @admin.action(description="Unpublish selected locations", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Location]) -> None:
        changed = location_set_published(locations=queryset.select_related("owner"), publish=False)
        self.message_user(request, f"{changed} location(s) unpublished.", messages.SUCCESS)

    @admin.action(
        description="Mark all EVSEs of selected locations out of order", permissions=["change"]
    )
    def mark_evses_out_of_order(self, request: HttpRequest, queryset: QuerySet[Location]) -> None:
        changed = evse_set_status(
            evses=EVSE.objects.filter(location__in=queryset), status=Status.OUTOFORDER
        )
        self.message_user(request, f"{changed} EVSE(s) marked out of order.", messages.SUCCESS)

    @admin.action(
        description="Mark all EVSEs of selected locations as removed…", permissions=["change"]
    )
    def mark_evses_removed(
        self, request: HttpRequest, queryset: QuerySet[Location]
    ) -> TemplateResponse | None:
        evses = EVSE.objects.filter(location__in=queryset).exclude(status=Status.REMOVED)
        if request.POST.get("post") != "yes":
            return _confirm_removal(
                request, self, selected=queryset, evses=evses, action="mark_evses_removed"
            )
        _evses_removed(request, self, evses)
        return None

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Partners hear of the smallest change: the location, or only the EVSEs edited inline."""
        super().save_related(request, form, formsets, change)
        location = form.instance
        if not change or form.has_changed():
            push_location_changed(location=location)
            return
        for evse, fields in _saved_rows(formsets):
            push_location_changed(location=location, evse=evse, fields=_status_only(fields))


class ConnectorInline(JsonFieldsAdminMixin, admin.StackedInline):
    """Connectors of an EVSE; a connector stays with its EVSE once saved."""

    model = Connector
    form = ConnectorInlineForm
    formset = ConnectorInlineFormSet
    choice_lists = {"capabilities": ConnectorCapability}
    fields = (
        ("ocpi_id", "standard", "format", "power_type"),
        ("max_voltage", "max_amperage", "max_electric_power"),
        "tariff_ids",
        "terms_and_conditions",
        "capabilities",
        "last_updated",
    )
    readonly_fields = ("last_updated",)
    extra = 0


@admin.register(EVSE)
class EVSEAdmin(JsonFieldsAdminMixin, admin.ModelAdmin):
    """One EVSE with its connectors. There is no delete: EVSEs are marked removed instead."""

    list_display = (
        "__str__",
        "uid",
        "location",
        "status",
        "connector_count",
        "last_updated",
    )
    list_filter = ("status", "location__owner", "connectors__power_type", "connectors__standard")
    search_fields = ("evse_id", "uid", "location__ocpi_id", "location__name")
    list_select_related = ("location",)
    show_full_result_count = False
    ordering = ("-last_updated", "-id")
    autocomplete_fields = ("location",)
    inlines = (ConnectorInline,)
    readonly_fields = ("last_updated",)
    actions = ("mark_out_of_order", "mark_available", "mark_removed")
    fieldsets = (
        (None, {"fields": ("location", "uid", "evse_id", "status", "last_updated")}),
        (
            "Details",
            {
                "fields": (
                    "capabilities",
                    "physical_reference",
                    "floor_level",
                    "latitude",
                    "longitude",
                    "directions",
                    "images",
                    "parking_restrictions",
                    "status_schedule",
                )
            },
        ),
        (
            "OCPI 2.3.0",
            {"fields": ("parking", "accepted_service_providers"), "classes": ("collapse",)},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[EVSE]:
        return super().get_queryset(request).annotate(connector_total=_count_of(Connector, "evse"))

    def get_readonly_fields(self, request: HttpRequest, obj: EVSE | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # An EVSE stays at its location and keeps its uid: partners know it by both.
        return (*self.readonly_fields, "location", "uid")

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        # Deleting would hide the EVSE from partners forever; "Mark as removed" tells them.
        return False

    @admin.display(description="connectors", ordering="connector_total")
    def connector_count(self, obj: EVSE) -> int:
        return getattr(obj, "connector_total", 0)

    @admin.action(description="Mark selected EVSEs out of order", permissions=["change"])
    def mark_out_of_order(self, request: HttpRequest, queryset: QuerySet[EVSE]) -> None:
        changed = evse_set_status(evses=queryset, status=Status.OUTOFORDER)
        self.message_user(request, f"{changed} EVSE(s) marked out of order.", messages.SUCCESS)

    @admin.action(description="Mark selected EVSEs available", permissions=["change"])
    def mark_available(self, request: HttpRequest, queryset: QuerySet[EVSE]) -> None:
        changed = evse_set_status(evses=queryset, status=Status.AVAILABLE)
        self.message_user(request, f"{changed} EVSE(s) marked available.", messages.SUCCESS)

    @admin.action(description="Mark selected EVSEs as removed…", permissions=["change"])
    def mark_removed(
        self, request: HttpRequest, queryset: QuerySet[EVSE]
    ) -> TemplateResponse | None:
        evses = queryset.exclude(status=Status.REMOVED)
        if request.POST.get("post") != "yes":
            return _confirm_removal(
                request, self, selected=queryset, evses=evses, action="mark_removed"
            )
        _evses_removed(request, self, evses)
        return None

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Partners hear of the smallest change: the EVSE (a PATCH for a status), or only the
        connectors edited inline; a removed connector makes the whole EVSE go out again."""
        super().save_related(request, form, formsets, change)
        evse = form.instance
        connectors = _saved_rows(formsets)
        removed = any(formset.deleted_objects for formset in formsets)
        status_fields = _status_only(form.changed_data) if change else None
        if not change or removed or (form.has_changed() and (connectors or not status_fields)):
            push_location_changed(location=evse.location, evse=evse)
            return
        if form.has_changed():
            push_location_changed(location=evse.location, evse=evse, fields=status_fields)
        for connector, _fields in connectors:
            push_location_changed(location=evse.location, evse=evse, connector=connector)


@admin.register(Connector)
class ConnectorAdmin(JsonFieldsAdminMixin, admin.ModelAdmin):
    """All connectors across locations, for searching; normally edited inside their EVSE."""

    choice_lists = {"capabilities": ConnectorCapability}
    list_display = (
        "__str__",
        "evse",
        "standard",
        "format",
        "power_type",
        "max_electric_power",
        "last_updated",
    )
    list_filter = ("standard", "format", "power_type")
    search_fields = ("ocpi_id", "evse__evse_id", "evse__uid", "evse__location__ocpi_id")
    list_select_related = ("evse",)
    show_full_result_count = False
    ordering = ("-last_updated", "-id")
    autocomplete_fields = ("evse",)
    readonly_fields = ("last_updated",)

    def get_readonly_fields(self, request: HttpRequest, obj: Connector | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # A connector stays with its EVSE and keeps its id: partners know it by both.
        return (*self.readonly_fields, "evse", "ocpi_id")

    def save_model(self, request: HttpRequest, obj: Connector, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        evse = obj.evse
        push_location_changed(location=evse.location, evse=evse, connector=obj)

    def delete_model(self, request: HttpRequest, obj: Connector) -> None:
        evse = obj.evse
        super().delete_model(request, obj)
        # Partners learn a connector is gone from its EVSE sent without it.
        push_location_changed(location=evse.location, evse=evse)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        with transaction.atomic():
            evses = {connector.evse_id: connector.evse for connector in queryset}
            super().delete_queryset(request, queryset)
            for evse in evses.values():
                push_location_changed(location=evse.location, evse=evse)
