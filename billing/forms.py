"""Admin forms of billing: a tariff with its nested elements, CDR credits, exports, reports, preview."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nested_admin
from django import forms
from django.core.exceptions import ValidationError
from django.forms.formsets import DELETION_FIELD_NAME

from billing.choices import DayOfWeek
from billing.countries import country_alpha3
from billing.models import Tariff, TariffElement
from roaming.models import Party


class OurCpoChoiceField(forms.ModelChoiceField):
    """Offers only our CPO identities, yet accepts any party so the ownership rule can say why not.

    A stale or hand-made form may name a partner; the model's ownership rule then explains the
    refusal instead of the generic "not one of the available choices".
    """

    def to_python(self, value: Any) -> Party | None:
        if value in self.empty_values:
            return None
        try:
            return Party.objects.get(pk=value)
        except (ValueError, TypeError, Party.DoesNotExist):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class TariffForm(forms.ModelForm):
    owner = OurCpoChoiceField(
        queryset=Party.objects.ours(), help_text="Our CPO identity that publishes this tariff."
    )
    tariff_alt_url = forms.URLField(
        label="Tariff alt URL",
        max_length=255,
        required=False,
        assume_scheme="https",
        help_text="A web page explaining the tariff to drivers.",
    )

    class Meta:
        model = Tariff
        fields = (
            "owner",
            "ocpi_id",
            "currency",
            "type",
            "tax_included",
            "min_price_before_taxes",
            "min_price_after_taxes",
            "max_price_before_taxes",
            "max_price_after_taxes",
            "preauthorize_amount",
            "start_date_time",
            "end_date_time",
            "tariff_alt_text",
            "tariff_alt_url",
            "energy_mix",
        )


class TariffElementForm(forms.ModelForm):
    day_of_week = forms.MultipleChoiceField(
        choices=DayOfWeek.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Days of the week",
        help_text="None ticked: every day.",
    )

    class Meta:
        model = TariffElement
        fields = (
            "position",
            "start_time",
            "end_time",
            "start_date",
            "end_date",
            "day_of_week",
            "min_kwh",
            "max_kwh",
            "min_current",
            "max_current",
            "min_power",
            "max_power",
            "min_duration",
            "max_duration",
            "reservation",
            "booking",
        )


def _marked_for_deletion(form: forms.BaseForm) -> bool:
    field = form.fields.get(DELETION_FIELD_NAME)
    if field is None:
        return False
    return bool(
        field.widget.value_from_datadict(
            form.data, form.files, form.add_prefix(DELETION_FIELD_NAME)
        )
    )


def _kept_forms(formset: forms.BaseFormSet) -> list[forms.BaseForm]:
    """Forms that will exist after saving: not deleted, and either stored or filled in."""
    return [
        form
        for form in formset.forms
        if not _marked_for_deletion(form)
        and (form.instance.pk is not None or form.has_changed())
        and getattr(form, "cleaned_data", None) is not None
    ]


class TariffElementFormSet(nested_admin.NestedInlineFormSet):
    """A tariff has at least one element (OCPI: one or more)."""

    def clean(self) -> None:
        super().clean()
        if not _kept_forms(self):
            raise ValidationError("A tariff needs at least one element.")


class PriceComponentFormSet(nested_admin.NestedInlineFormSet):
    """An element has at least one price component and prices each dimension once."""

    def clean(self) -> None:
        super().clean()
        parent = getattr(self, "parent_form", None)
        if parent is not None and (
            _marked_for_deletion(parent)
            or (parent.instance.pk is None and not parent.has_changed() and not self.has_changed())
        ):
            return
        kept = _kept_forms(self)
        if not kept:
            raise ValidationError("An element needs at least one price component.")
        types = [form.cleaned_data.get("type") for form in kept]
        repeated = sorted({t for t in types if t and types.count(t) > 1})
        if repeated:
            raise ValidationError(
                f"Price {', '.join(repeated)} only once per element: put another price for the "
                "same dimension in its own element with restrictions."
            )


# --- CDR credits, finance exports and reports, price preview ---------------------------------


class CreditCdrForm(forms.Form):
    """Why a CDR is credited, and optionally the corrected quantities of a replacement CDR."""

    reason = forms.CharField(
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Sent to the eMSP in the credit CDR's remark: say why, in plain words.",
    )
    corrected_energy = forms.DecimalField(
        label="Corrected energy (kWh)",
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=4,
    )
    corrected_time = forms.DecimalField(
        label="Corrected total time (hours)",
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=6,
        help_text="Charging and parking together.",
    )
    corrected_parking_time = forms.DecimalField(
        label="Corrected parking time (hours)",
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=6,
    )

    _CORRECTIONS = {
        "corrected_energy": "total_energy",
        "corrected_time": "total_time",
        "corrected_parking_time": "total_parking_time",
    }

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if not reason:
            raise ValidationError("Give the reason for the credit.")
        return reason

    def corrected(self) -> dict[str, Decimal] | None:
        """The corrections given (CDR field names), or None when only a credit is wanted."""
        given = {
            field: self.cleaned_data[name]
            for name, field in self._CORRECTIONS.items()
            if self.cleaned_data.get(name) is not None
        }
        return given or None


class CdrExportForm(forms.Form):
    """Which CDRs to export, and as what."""

    date_from = forms.DateField(
        label="Started from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="Started until (included)", widget=forms.DateInput(attrs={"type": "date"})
    )
    partner = forms.ChoiceField(label="Partner eMSP", required=False)
    country = forms.CharField(
        max_length=3, required=False, help_text="Location country, e.g. DE or DEU."
    )
    currency = forms.CharField(max_length=3, required=False, help_text="e.g. EUR.")
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "Excel (XLSX)")], initial="csv")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        partners = Party.objects.filter(is_ours=False).order_by("country_code", "party_id")
        partner = self.fields["partner"]
        assert isinstance(partner, forms.ChoiceField)
        partner.choices = [("", "All partners")] + [
            (party.code, f"{party.code} {party.name}") for party in partners
        ]

    def clean_country(self) -> str:
        value = str(self.cleaned_data["country"]).strip()
        if not value:
            return ""
        try:
            return country_alpha3(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def clean_currency(self) -> str:
        value = str(self.cleaned_data["currency"]).strip().upper()
        if value and not (len(value) == 3 and value.isalpha()):
            raise ValidationError("Give an ISO 4217 currency code, e.g. EUR.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            raise ValidationError("The period ends before it starts.")
        return cleaned


class SettlementReportForm(forms.Form):
    """The month of the settlement report."""

    month = forms.DateField(
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        help_text="Calendar month of the CDRs' start, in UTC.",
    )


class PricePreviewForm(forms.Form):
    """A made-up session to price under a tariff."""

    start = forms.DateTimeField(
        label="Start (local time)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    time_zone = forms.CharField(max_length=64, help_text="The location's time zone.")
    duration = forms.IntegerField(label="Charging (minutes)", min_value=0, max_value=60 * 24 * 7)
    parking = forms.IntegerField(
        label="Parking afterwards (minutes)",
        min_value=0,
        max_value=60 * 24 * 7,
        required=False,
        initial=0,
    )
    energy = forms.DecimalField(
        label="Energy (kWh)", min_value=Decimal(0), max_digits=10, decimal_places=3
    )
    max_power = forms.DecimalField(
        label="Max power (kW)",
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=3,
        required=False,
    )

    def clean_time_zone(self) -> str:
        name = str(self.cleaned_data["time_zone"]).strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"Unknown time zone {name!r}, e.g. Europe/Berlin.") from exc
        return name
