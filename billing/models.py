"""Tariffs (with their ordered elements and price components) and CDRs, as OCPI publishes them.

Money
-----
A tariff's ``min_price`` / ``max_price`` is a pair of plain amounts in every version that has it:
2.2.1 ``Price`` {excl_vat, incl_vat?} and 2.3.0 ``PriceLimit`` {before_taxes, after_taxes?}. Both
limits apply on their own (the after-taxes one is not derived from the before-taxes one), so each
is stored as two Decimal columns, before taxes (required when the limit is set) and after taxes
(optional). That round-trips both versions exactly; tax lines would lose the after-taxes figure.

CDR costs are ``money_pair`` columns (cpms.money): the amount before taxes plus the tax lines,
from which 2.2.1 ``incl_vat`` and 2.3.0 ``taxes`` are both derived.

Deleting a tariff
-----------------
Partners keep copies of our tariffs and must be told when one goes away, so a tariff row is never
removed: ``delete()`` (also on a queryset) stamps ``deleted_at`` and bumps ``last_updated``, and
``restore()`` takes it back. Its OCPI id stays taken while the row exists. CDRs never point at a
tariff row: they keep a snapshot of the tariffs as they were.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length, Lower
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from billing.choices import (
    BookingRestrictionType,
    DayOfWeek,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffType,
    TaxIncluded,
)
from cpms.identifiers import currency_validator, ocpi_id_validator
from cpms.money import MONEY_DIGITS, money_pair
from cpms.value_objects import ChoicesListValidator, ValueObjectValidator
from roaming.models import Party
from roaming.ownership import OwnedByOurCpo
from sessions_app.choices import AuthMethod

NOT_NEGATIVE = [MinValueValidator(Decimal(0))]
MONEY: dict[str, Any] = dict(MONEY_DIGITS)
ENERGY_DIGITS: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}
# Hours with six decimals keep durations exact to well under a second.
HOURS_DIGITS: dict[str, Any] = {"max_digits": 14, "decimal_places": 6}
# Amperes and kilowatts of tariff restrictions.
ELECTRIC_DIGITS: dict[str, Any] = {"max_digits": 10, "decimal_places": 3}


def _json(schema: str, **kwargs: Any) -> models.JSONField[Any, Any]:
    return models.JSONField(validators=[ValueObjectValidator(schema)], **kwargs)


def _money(verbose_name: str, **kwargs: Any) -> models.DecimalField[Any, Any]:
    return models.DecimalField(
        verbose_name, null=True, blank=True, validators=NOT_NEGATIVE, **MONEY, **kwargs
    )


def _unset_or(field: str, condition: Q) -> Q:
    return Q(**{f"{field}__isnull": True}) | condition


def _ordered_pair(low: str, high: str, *, strict: bool, name: str, message: str) -> Any:
    """Check constraint: when both bounds are set, the lower one lies below the upper one."""
    lookup = "lt" if strict else "lte"
    return models.CheckConstraint(
        condition=Q(**{f"{low}__isnull": True})
        | Q(**{f"{high}__isnull": True})
        | Q(**{f"{low}__{lookup}": F(high)}),
        name=name,
        violation_error_message=message,
    )


def validate_whole_minute(value: datetime.time) -> None:
    """OCPI restriction times are HH:MM: seconds cannot be published."""
    if value.second or value.microsecond:
        raise ValidationError("Give the time in whole minutes (HH:MM).")


# --- Tariffs ---------------------------------------------------------------------------------


class TariffQuerySet(models.QuerySet["Tariff"]):
    def active(self) -> TariffQuerySet:
        """Tariffs not deleted: the ones partners may use."""
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> TariffQuerySet:
        return self.filter(deleted_at__isnull=False)

    def delete(self) -> tuple[int, dict[str, int]]:
        """Tariffs are never removed (partners must learn of it): mark each one deleted."""
        count = 0
        for tariff in self.filter(deleted_at__isnull=True):
            tariff.delete()
            count += 1
        return count, {Tariff._meta.label: count}


class Tariff(OwnedByOurCpo):
    """A price list of ours, published to partners: ordered elements of price components."""

    ocpi_id = models.CharField("OCPI id", max_length=36, validators=[ocpi_id_validator])
    currency = models.CharField(
        max_length=3, validators=[currency_validator], help_text="ISO 4217, e.g. EUR."
    )
    type = models.CharField(
        max_length=16,
        choices=TariffType.choices,
        blank=True,
        help_text="Empty: valid for every session.",
    )
    tariff_alt_text = _json(
        "display_texts",
        default=list,
        blank=True,
        help_text='Human-readable texts: [{"language": "en", "text": "..."}].',
    )
    tariff_alt_url = models.URLField("tariff alt URL", max_length=255, blank=True)
    min_price_before_taxes = _money("minimum price before taxes")
    min_price_after_taxes = _money(
        "minimum price after taxes", help_text="Optional; needs the price before taxes."
    )
    max_price_before_taxes = _money("maximum price before taxes")
    max_price_after_taxes = _money(
        "maximum price after taxes", help_text="Optional; needs the price before taxes."
    )
    preauthorize_amount = _money(
        "preauthorize amount", help_text="OCPI 2.3.0: amount a payment terminal should reserve."
    )
    tax_included = models.CharField(
        max_length=3,
        choices=TaxIncluded.choices,
        default=TaxIncluded.NO,
        help_text="Yes: prices include taxes. No: taxes are added on top. N/A: no taxes apply. "
        "(OCPI 2.3.0; OCPI 2.2.1 prices always exclude VAT.)",
    )
    start_date_time = models.DateTimeField(null=True, blank=True, help_text="Valid from (UTC).")
    end_date_time = models.DateTimeField(null=True, blank=True, help_text="Valid until (UTC).")
    energy_mix = _json("energy_mix", null=True, blank=True)
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when deleted: the tariff is kept so partners can be told.",
    )

    objects: ClassVar[TariffQuerySet] = TariffQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["last_updated", "id"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("ocpi_id"),
                name="tariff_unique_id_per_owner",
                violation_error_message="This owner already has a tariff with this OCPI id "
                "(ids are compared without regard to case).",
            ),
            models.CheckConstraint(
                condition=_unset_or(
                    "min_price_after_taxes", Q(min_price_before_taxes__isnull=False)
                ),
                name="tariff_min_price_after_taxes_needs_before",
                violation_error_message="Give the minimum price before taxes as well.",
            ),
            models.CheckConstraint(
                condition=_unset_or(
                    "max_price_after_taxes", Q(max_price_before_taxes__isnull=False)
                ),
                name="tariff_max_price_after_taxes_needs_before",
                violation_error_message="Give the maximum price before taxes as well.",
            ),
            *[
                models.CheckConstraint(
                    condition=_unset_or(field, Q(**{f"{field}__gte": 0})),
                    name=f"tariff_{field}_not_negative",
                    violation_error_message="Amounts cannot be negative.",
                )
                for field in (
                    "min_price_before_taxes",
                    "min_price_after_taxes",
                    "max_price_before_taxes",
                    "max_price_after_taxes",
                    "preauthorize_amount",
                )
            ],
            _ordered_pair(
                "min_price_before_taxes",
                "max_price_before_taxes",
                strict=False,
                name="tariff_min_price_before_taxes_le_max",
                message="The minimum price before taxes is above the maximum.",
            ),
            _ordered_pair(
                "min_price_after_taxes",
                "max_price_after_taxes",
                strict=False,
                name="tariff_min_price_after_taxes_le_max",
                message="The minimum price after taxes is above the maximum.",
            ),
            _ordered_pair(
                "start_date_time",
                "end_date_time",
                strict=True,
                name="tariff_ends_after_start",
                message="The tariff must end after it starts.",
            ),
        ]
        indexes = [models.Index(fields=["last_updated", "id"], name="tariff_sync_order")]

    def __str__(self) -> str:
        return f"{self.ocpi_id} ({self.currency})"

    _loaded_identity: tuple[Any, Any] | None = None

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Tariff:
        instance = super().from_db(db, field_names, values)
        identity = (instance.__dict__.get("owner_id"), instance.__dict__.get("ocpi_id"))
        instance._loaded_identity = None if None in identity else identity
        return instance

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def clean(self) -> None:
        super().clean()
        # Partners know a tariff by owner and id: changing either would orphan their copy.
        if self._loaded_identity and self._loaded_identity != (self.owner_id, self.ocpi_id):
            raise ValidationError(
                {
                    "ocpi_id": "The owner and OCPI id of a published tariff cannot change; "
                    "create a new tariff instead."
                }
            )

    def save(self, *args: Any, touch: bool = True, **kwargs: Any) -> None:
        if touch:
            self.last_updated = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "last_updated"}
        super().save(*args, **kwargs)
        self._loaded_identity = (self.owner_id, self.ocpi_id)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Partners must learn that a tariff is gone, so it is kept and marked deleted."""
        if self.deleted_at is None:
            self.deleted_at = timezone.now()
            self.save(update_fields=["deleted_at"])
        return 0, {}

    def restore(self) -> None:
        """Undo a deletion: the tariff is published again under the same id."""
        if self.deleted_at is not None:
            self.deleted_at = None
            self.save(update_fields=["deleted_at"])


def _touch_tariff(tariff_pk: int | None) -> None:
    """A changed element or price component changes its tariff for partners syncing by date."""
    if tariff_pk is not None:
        Tariff.objects.filter(pk=tariff_pk).update(last_updated=timezone.now())


def _touch_tariff_of_element(element_pk: int | None) -> None:
    if element_pk is not None:
        Tariff.objects.filter(elements__pk=element_pk).update(last_updated=timezone.now())


# Far above any real tariff; billing.services parks elements above it while reordering.
MAX_ELEMENT_POSITION = 9999
_DAY_ORDER = {day: index for index, day in enumerate(DayOfWeek.values)}


class TariffElement(models.Model):
    """One element of a tariff: price components that apply while all its restrictions match.

    Elements are ordered (``position``): per dimension, the first element whose restrictions
    match wins. Restrictions are in the location's local time; an end time before the start time
    wraps past midnight. Ranges include their minimum and exclude their maximum.
    """

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="elements")
    position = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_ELEMENT_POSITION)],
        help_text="Order in the tariff: the first matching element wins.",
    )
    start_time = models.TimeField(
        null=True, blank=True, validators=[validate_whole_minute], help_text="Local time, HH:MM."
    )
    end_time = models.TimeField(
        null=True,
        blank=True,
        validators=[validate_whole_minute],
        help_text="Local time, HH:MM; before the start time wraps past midnight; 00:00 is the "
        "end of the day.",
    )
    start_date = models.DateField(null=True, blank=True, help_text="Local date, inclusive.")
    end_date = models.DateField(null=True, blank=True, help_text="Local date, exclusive.")
    min_kwh = models.DecimalField(
        "min kWh", null=True, blank=True, validators=NOT_NEGATIVE, **ENERGY_DIGITS
    )
    max_kwh = models.DecimalField(
        "max kWh", null=True, blank=True, validators=NOT_NEGATIVE, **ENERGY_DIGITS
    )
    min_current = models.DecimalField(
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text="A, summed over phases.",
        **ELECTRIC_DIGITS,
    )
    max_current = models.DecimalField(
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text="A, summed over phases.",
        **ELECTRIC_DIGITS,
    )
    min_power = models.DecimalField(
        null=True, blank=True, validators=NOT_NEGATIVE, help_text="kW.", **ELECTRIC_DIGITS
    )
    max_power = models.DecimalField(
        null=True, blank=True, validators=NOT_NEGATIVE, help_text="kW.", **ELECTRIC_DIGITS
    )
    min_duration = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds since the session started."
    )
    max_duration = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds since the session started."
    )
    day_of_week = models.JSONField(
        default=list,
        blank=True,
        validators=[ChoicesListValidator(tuple(DayOfWeek.values), "days of the week")],
        help_text="Empty: every day.",
    )
    reservation = models.CharField(
        max_length=24,
        choices=ReservationRestrictionType.choices,
        blank=True,
        help_text="Set when this element prices a reservation (only FLAT and TIME then).",
    )
    booking = models.CharField(
        max_length=32,
        choices=BookingRestrictionType.choices,
        blank=True,
        help_text="OCPI 2.3.0: set when this element prices a booking (only FLAT and TIME then).",
    )

    class Meta:
        ordering = ["tariff_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tariff", "position"],
                name="tariff_element_unique_position",
                violation_error_message="Two elements of a tariff cannot share a position.",
            ),
            _ordered_pair(
                "min_kwh",
                "max_kwh",
                strict=True,
                name="tariff_element_kwh_range",
                message="Min kWh must be below max kWh.",
            ),
            _ordered_pair(
                "min_current",
                "max_current",
                strict=True,
                name="tariff_element_current_range",
                message="Min current must be below max current.",
            ),
            _ordered_pair(
                "min_power",
                "max_power",
                strict=True,
                name="tariff_element_power_range",
                message="Min power must be below max power.",
            ),
            _ordered_pair(
                "min_duration",
                "max_duration",
                strict=True,
                name="tariff_element_duration_range",
                message="Min duration must be below max duration.",
            ),
            _ordered_pair(
                "start_date",
                "end_date",
                strict=True,
                name="tariff_element_date_range",
                message="The start date must be before the (exclusive) end date.",
            ),
            models.CheckConstraint(
                condition=Q(start_time__isnull=True)
                | Q(end_time__isnull=True)
                | ~Q(start_time=F("end_time")),
                name="tariff_element_time_range",
                violation_error_message="Start and end time are equal; leave both empty for "
                "the whole day.",
            ),
            *[
                models.CheckConstraint(
                    condition=_unset_or(field, Q(**{f"{field}__gte": 0})),
                    name=f"tariff_element_{field}_not_negative",
                    violation_error_message="Restrictions cannot be negative.",
                )
                for field in (
                    "min_kwh",
                    "max_kwh",
                    "min_current",
                    "max_current",
                    "min_power",
                    "max_power",
                )
            ],
        ]

    def __str__(self) -> str:
        return f"element {self.position + 1} of tariff {self.tariff.ocpi_id}"

    def clean(self) -> None:
        super().clean()
        if isinstance(self.day_of_week, list) and all(d in _DAY_ORDER for d in self.day_of_week):
            # One canonical form: each day once, Monday first.
            self.day_of_week = sorted(set(self.day_of_week), key=_DAY_ORDER.__getitem__)

    def save(self, *args: Any, touch: bool = True, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        if touch:
            _touch_tariff(self.tariff_id)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        tariff_pk = self.tariff_id
        result = super().delete(*args, **kwargs)
        _touch_tariff(tariff_pk)
        return result


# Dimensions a reservation or booking element may price (the spec allows no others there).
RESERVATION_DIMENSIONS = frozenset({TariffDimensionType.FLAT, TariffDimensionType.TIME})


class PriceComponent(models.Model):
    """How one dimension (energy, time, parking time or a flat fee) is priced within an element."""

    element = models.ForeignKey(
        TariffElement, on_delete=models.CASCADE, related_name="price_components"
    )
    position = models.PositiveIntegerField(default=0, help_text="Order within the element.")
    type = models.CharField(max_length=16, choices=TariffDimensionType.choices)
    price = models.DecimalField(
        validators=NOT_NEGATIVE, help_text="Per unit: kWh, hour, or once for FLAT.", **MONEY
    )
    vat = models.DecimalField(
        "VAT %",
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Percentage; empty means no VAT applies (different from 0).",
    )
    step_size = models.PositiveIntegerField(
        default=1,
        help_text="Billing block: Wh for ENERGY, seconds for TIME and PARKING_TIME; "
        "ignored for FLAT.",
    )

    class Meta:
        ordering = ["element_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="price_component_price_not_negative",
                violation_error_message="The price cannot be negative.",
            ),
            # FLAT ignores the step size (the spec's own free tariff sends 0); others divide by it.
            models.CheckConstraint(
                condition=Q(step_size__gte=1) | Q(type="FLAT"),
                name="price_component_step_size_positive",
                violation_error_message="The step size must be at least 1 (except for FLAT).",
            ),
            models.CheckConstraint(
                condition=_unset_or("vat", Q(vat__gte=0, vat__lte=100)),
                name="price_component_vat_percentage",
                violation_error_message="VAT is a percentage between 0 and 100.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.price}"

    def clean(self) -> None:
        super().clean()
        if (
            self.type != TariffDimensionType.FLAT
            and self.step_size is not None
            and self.step_size < 1
        ):
            raise ValidationError(
                {"step_size": "The step size must be at least 1 (except for FLAT)."}
            )
        # In the admin the element may be new (no id yet) but already attached.
        has_element = self.element_id is not None or self._meta.get_field("element").is_cached(self)
        if not has_element or not self.type:
            return
        element = self.element
        if (element.reservation or element.booking) and self.type not in RESERVATION_DIMENSIONS:
            raise ValidationError(
                {"type": "A reservation or booking element can only price FLAT and TIME."}
            )

    def save(self, *args: Any, touch: bool = True, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        if touch:
            _touch_tariff_of_element(self.element_id)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        element_pk = self.element_id
        result = super().delete(*args, **kwargs)
        _touch_tariff_of_element(element_pk)
        return result


# --- CDRs --------------------------------------------------------------------------------------


class CdrImmutableError(Exception):
    """Raised on any attempt to change or delete a CDR: corrections are made with a credit CDR."""

    def __init__(self, action: str) -> None:
        super().__init__(
            f"A CDR cannot be {action} once created; correct it by issuing a credit CDR."
        )


class CdrQuerySet(models.QuerySet["CDR"]):
    def visible_to(self, party: Party) -> CdrQuerySet:
        """CDRs a partner may see: only those of its own drivers' sessions."""
        return self.filter(emsp=party)

    def update(self, **kwargs: Any) -> int:
        raise CdrImmutableError("updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise CdrImmutableError("deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise CdrImmutableError("updated")


# Cost columns other than total_cost; each is a money_pair (amount before taxes + tax lines).
CDR_SUB_COSTS = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


class CDR(OwnedByOurCpo):
    """A charge detail record: the sealed, priced account of one session, sent to its eMSP once.

    Immutable once created: saving an existing row, deleting it, or updating or deleting through
    a queryset raises CdrImmutableError. A correction is a credit CDR (``credit`` set,
    ``credit_reference_id`` naming the original): it repeats the original's data with the money
    reversed, so its ``total_cost`` is zero or negative while quantities (energy, time) stay as
    they were. Sub-costs of a credit are not sign-checked: OCPI only says ``total_cost`` turns
    negative, and the credit service decides how sub-costs are reversed.
    """

    ocpi_id = models.CharField(
        "OCPI id",
        max_length=39,
        validators=[ocpi_id_validator],
        help_text="At most 36 characters, 39 for a credit CDR (e.g. the original id + '-C').",
    )
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField()
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cdrs",
    )
    # The OCPI session_id as sent (the session row may be absent, e.g. a reservation-only CDR).
    ocpi_session_id = models.CharField("OCPI session id", max_length=36, blank=True)
    booking_id = models.CharField(max_length=36, blank=True, help_text="OCPI 2.3.0.")
    cdr_token = _json("cdr_token", help_text="The token as it was when the session started.")
    emsp = models.ForeignKey(
        "roaming.Party",
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"is_ours": False},
        help_text="The eMSP of the driver's token: the only partner that sees this CDR.",
    )
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices)
    authorization_reference = models.CharField(max_length=36, blank=True)
    cdr_location = _json("cdr_location", help_text="The location, EVSE and connector as they were.")
    location = models.ForeignKey(
        "locations.Location",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cdrs",
        help_text="For reports; partners get the cdr_location snapshot.",
    )
    meter_id = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    tariffs = _json(
        "tariff_snapshots",
        default=list,
        blank=True,
        help_text="The tariffs that applied, copied whole as they were (never a reference).",
    )
    charging_periods = _json(
        "cdr_charging_periods", help_text="[{start_date_time, dimensions, tariff_id}]"
    )
    signed_data = _json("signed_data", null=True, blank=True)
    total_cost, total_cost_taxes = money_pair("total cost", required=True)
    total_fixed_cost, total_fixed_cost_taxes = money_pair("total fixed cost")
    total_energy_cost, total_energy_cost_taxes = money_pair("total energy cost")
    total_time_cost, total_time_cost_taxes = money_pair("total time cost")
    total_parking_cost, total_parking_cost_taxes = money_pair("total parking cost")
    total_reservation_cost, total_reservation_cost_taxes = money_pair("total reservation cost")
    total_energy = models.DecimalField(validators=NOT_NEGATIVE, help_text="kWh.", **ENERGY_DIGITS)
    total_time = models.DecimalField(
        validators=NOT_NEGATIVE, help_text="Hours, charging and not charging.", **HOURS_DIGITS
    )
    total_parking_time = models.DecimalField(
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text="Hours not charging.",
        **HOURS_DIGITS,
    )
    remark = models.CharField(max_length=255, blank=True)
    invoice_reference_id = models.CharField(max_length=39, blank=True)
    credit = models.BooleanField(default=False, help_text="A credit CDR reversing another one.")
    credit_reference_id = models.CharField(
        max_length=39, blank=True, help_text="The OCPI id of the CDR this one credits."
    )
    home_charging_compensation = models.BooleanField(default=False)
    last_updated = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[CdrQuerySet] = CdrQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = "CDR"
        ordering = ["last_updated", "id"]
        # Crediting reverses revenue: a finance decision, granted apart from viewing CDRs.
        permissions = [("issue_credit_cdr", "Can issue credit CDRs")]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("ocpi_id"),
                name="cdr_unique_id_per_owner",
                violation_error_message="This owner already has a CDR with this OCPI id "
                "(ids are compared without regard to case).",
            ),
            models.CheckConstraint(
                condition=Q(end_date_time__gte=F("start_date_time")),
                name="cdr_ends_after_start",
                violation_error_message="A CDR cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(credit=True) | Q(LessThanOrEqual(Length("ocpi_id"), 36)),
                name="cdr_id_length",
                violation_error_message="Only a credit CDR may have an id longer than 36 "
                "characters.",
            ),
            models.CheckConstraint(
                condition=Q(credit=True, credit_reference_id__gt="")
                | Q(credit=False, credit_reference_id=""),
                name="cdr_credit_has_reference",
                violation_error_message="A credit CDR needs the id of the CDR it credits, and "
                "only a credit CDR has one.",
            ),
            models.CheckConstraint(
                condition=Q(credit=False, total_cost__gte=0) | Q(credit=True, total_cost__lte=0),
                name="cdr_total_cost_sign",
                violation_error_message="The total cost is negative only on a credit CDR.",
            ),
            *[
                models.CheckConstraint(
                    condition=Q(credit=True) | _unset_or(field, Q(**{f"{field}__gte": 0})),
                    name=f"cdr_{field}_not_negative",
                    violation_error_message="Costs are negative only on a credit CDR.",
                )
                for field in CDR_SUB_COSTS
            ],
            models.CheckConstraint(
                condition=Q(total_energy__gte=0),
                name="cdr_total_energy_not_negative",
                violation_error_message="Total energy cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(total_time__gte=0),
                name="cdr_total_time_not_negative",
                violation_error_message="Total time cannot be negative.",
            ),
            models.CheckConstraint(
                condition=_unset_or(
                    "total_parking_time",
                    Q(total_parking_time__gte=0, total_parking_time__lte=F("total_time")),
                ),
                name="cdr_parking_time_within_total",
                violation_error_message="Parking time must lie between 0 and the total time.",
            ),
        ]
        indexes = [
            models.Index(fields=["emsp", "last_updated", "id"], name="cdr_sync_per_emsp"),
            models.Index(fields=["start_date_time"], name="cdr_start"),
        ]

    def __str__(self) -> str:
        return self.ocpi_id

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.credit and not self.credit_reference_id:
            errors["credit_reference_id"] = "A credit CDR needs the id of the CDR it credits."
        if not self.credit and self.credit_reference_id:
            errors["credit_reference_id"] = "Only a credit CDR references another CDR."
        if self.credit_reference_id and self.credit_reference_id.lower() == self.ocpi_id.lower():
            errors["credit_reference_id"] = "A credit CDR cannot credit itself."
        if not self.credit and len(self.ocpi_id) > 36:
            errors["ocpi_id"] = "At most 36 characters (39 only for a credit CDR)."
        if self.emsp_id is not None and isinstance(self.cdr_token, dict):
            token_party = (self.cdr_token.get("country_code"), self.cdr_token.get("party_id"))
            if all(token_party) and self.emsp.code != "-".join(str(p).upper() for p in token_party):
                errors["emsp"] = "The eMSP must be the party that issued the CDR token."
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise CdrImmutableError("changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise CdrImmutableError("deleted")
