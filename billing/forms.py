"""Admin forms of billing: a tariff with its elements and their price components on one page."""

from __future__ import annotations

from typing import Any

import nested_admin
from django import forms
from django.core.exceptions import ValidationError
from django.forms.formsets import DELETION_FIELD_NAME

from billing.choices import DayOfWeek
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
