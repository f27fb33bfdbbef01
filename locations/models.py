"""Charging locations, their EVSEs and connectors, as OCPI publishes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from cpms.identifiers import country_alpha3_validator, evse_id_validator, ocpi_id_validator
from cpms.value_objects import ChoicesListValidator, ValueObjectValidator
from locations.choices import (
    Capability,
    ConnectorCapability,
    ConnectorFormat,
    ConnectorType,
    Facility,
    ParkingRestriction,
    ParkingType,
    PowerType,
    Status,
)
from roaming.ownership import OwnedByOurCpo


def validate_time_zone(value: str) -> None:
    if value not in _TIME_ZONES:
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/Amsterdam.")


_TIME_ZONES = frozenset(available_timezones())

LATITUDE = {
    "max_digits": 9,
    "decimal_places": 6,
    "validators": [MinValueValidator(-90), MaxValueValidator(90)],
}
LONGITUDE = {
    "max_digits": 10,
    "decimal_places": 6,
    "validators": [MinValueValidator(-180), MaxValueValidator(180)],
}


def _json(schema: str, **kwargs: Any) -> models.JSONField[Any, Any]:
    return models.JSONField(validators=[ValueObjectValidator(schema)], **kwargs)


def _choice_list(choices: type[models.TextChoices], label: str) -> models.JSONField[Any, Any]:
    return models.JSONField(
        default=list, blank=True, validators=[ChoicesListValidator(tuple(choices.values), label)]
    )


class LocationQuerySet(models.QuerySet["Location"]):
    def published(self) -> LocationQuerySet:
        return self.filter(publish=True)


class Location(OwnedByOurCpo):
    """A charging site: one address with one or more EVSEs, published to partners over OCPI."""

    ocpi_id = models.CharField("OCPI id", max_length=36, validators=[ocpi_id_validator])
    publish = models.BooleanField(default=True, help_text="Shown to every partner.")
    publish_allowed_to = _json(
        "publish_tokens",
        default=list,
        blank=True,
        help_text="When not published: only drivers with these tokens may see it.",
    )
    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=45)
    city = models.CharField(max_length=45)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=20, blank=True)
    country = models.CharField(
        max_length=3, validators=[country_alpha3_validator], help_text="ISO 3166-1 alpha-3."
    )
    latitude = models.DecimalField(**LATITUDE)  # type: ignore[arg-type]
    longitude = models.DecimalField(**LONGITUDE)  # type: ignore[arg-type]
    related_locations = _json("additional_geo_locations", default=list, blank=True)
    parking_type = models.CharField(max_length=32, choices=ParkingType.choices, blank=True)
    parking_places = _json("parkings", default=list, blank=True, help_text="OCPI 2.3.0.")
    help_phone = models.CharField(max_length=25, blank=True, help_text="OCPI 2.3.0.")
    directions = _json("display_texts", default=list, blank=True)
    operator = _json("business_details", null=True, blank=True)
    suboperator = _json("business_details", null=True, blank=True)
    owner_details = _json(
        "business_details",
        null=True,
        blank=True,
        help_text="OCPI 'owner': the business that owns the site.",
    )
    facilities = _choice_list(Facility, "facilities")
    time_zone = models.CharField(max_length=255, validators=[validate_time_zone])
    opening_times = _json("hours", null=True, blank=True, help_text="Empty means always open.")
    charging_when_closed = models.BooleanField(null=True, blank=True)
    images = _json("images", default=list, blank=True)
    energy_mix = _json("energy_mix", null=True, blank=True)
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)

    objects: ClassVar[LocationQuerySet] = LocationQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["last_updated", "id"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("ocpi_id"),
                name="location_unique_id_per_owner",
                violation_error_message="A location with this OCPI id already exists for this "
                "owner (ids ignore case).",
            ),
        ]
        indexes = [
            # The partner sync order; covering `publish` and `owner` lets counts and deep
            # offsets of the visible locations (with their owner) be read from the index alone.
            models.Index(
                fields=["last_updated", "id"], include=["publish", "owner"], name="location_sync"
            ),
            # Unpublished locations are few and read on every partner request (visibility).
            models.Index(
                fields=["last_updated", "id"],
                condition=models.Q(publish=False),
                name="location_unpublished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ocpi_id} {self.name}".strip()

    def save(self, *args: Any, touch: bool = True, **kwargs: Any) -> None:
        if touch:
            self.last_updated = timezone.now()
        super().save(*args, **kwargs)


class EVSEQuerySet(models.QuerySet["EVSE"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        """EVSEs are never deleted: a bulk delete marks them REMOVED instead."""
        count = 0
        for evse in self:
            evse.delete()
            count += 1
        return count, {EVSE._meta.label: count}


class EVSE(models.Model):
    """One charge point at a location (one vehicle charges at a time), with its connectors."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="evses")
    uid = models.CharField("UID", max_length=36, validators=[ocpi_id_validator])
    evse_id = models.CharField(
        "EVSE id",
        max_length=48,
        blank=True,
        validators=[evse_id_validator],
        help_text="eMI3 id such as NL*ABC*E12345; required for roaming.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    status_schedule = _json("status_schedules", default=list, blank=True)
    capabilities = _choice_list(Capability, "capabilities")
    floor_level = models.CharField(max_length=4, blank=True)
    latitude = models.DecimalField(null=True, blank=True, **LATITUDE)  # type: ignore[arg-type]
    longitude = models.DecimalField(null=True, blank=True, **LONGITUDE)  # type: ignore[arg-type]
    physical_reference = models.CharField(max_length=16, blank=True)
    directions = _json("display_texts", default=list, blank=True)
    parking_restrictions = _choice_list(ParkingRestriction, "parking restrictions")
    parking = _json("evse_parkings", default=list, blank=True, help_text="OCPI 2.3.0.")
    accepted_service_providers = _json("strings", default=list, blank=True, help_text="OCPI 2.3.0.")
    images = _json("images", default=list, blank=True)
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)

    objects: ClassVar[EVSEQuerySet] = EVSEQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = "EVSE"
        ordering = ["location_id", "id"]
        constraints = [
            models.UniqueConstraint(
                "location",
                Lower("uid"),
                name="evse_unique_uid_per_location",
                violation_error_message="This location already has an EVSE with this UID "
                "(UIDs ignore case).",
            ),
        ]

    _loaded_location_id: int | None = None

    def __str__(self) -> str:
        return self.evse_id or self.uid

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> EVSE:
        instance = super().from_db(db, field_names, values)
        instance._loaded_location_id = instance.__dict__.get("location_id")
        return instance

    def clean(self) -> None:
        super().clean()
        if self._loaded_location_id and self.location_id != self._loaded_location_id:
            raise ValidationError({"location": "An EVSE stays at its location; add a new one."})

    def save(self, *args: Any, touch: bool = True, **kwargs: Any) -> None:
        self.clean()
        if touch:
            self.last_updated = timezone.now()
        super().save(*args, **kwargs)
        self._loaded_location_id = self.location_id
        if touch:
            Location.objects.filter(pk=self.location_id).update(last_updated=self.last_updated)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Partners must learn that an EVSE is gone, so it is kept with status REMOVED."""
        self.status = Status.REMOVED
        self.save()
        return 0, {}


class Connector(models.Model):
    """A socket or cable of an EVSE; only one connector of an EVSE is in use at a time."""

    evse = models.ForeignKey(EVSE, on_delete=models.PROTECT, related_name="connectors")
    ocpi_id = models.CharField("OCPI id", max_length=36, validators=[ocpi_id_validator])
    standard = models.CharField(max_length=32, choices=ConnectorType.choices)
    format = models.CharField(max_length=8, choices=ConnectorFormat.choices)
    power_type = models.CharField(max_length=16, choices=PowerType.choices)
    max_voltage = models.PositiveIntegerField(help_text="Volt (line to neutral for AC 3 phase).")
    max_amperage = models.PositiveIntegerField(help_text="Ampere.")
    max_electric_power = models.PositiveIntegerField(
        null=True, blank=True, help_text="Watt; set when lower than voltage x amperage allows."
    )
    tariff_ids = _json(
        "strings",
        default=list,
        blank=True,
        help_text="Ids of our tariffs that apply to this connector.",
    )
    terms_and_conditions = models.URLField(max_length=255, blank=True)
    capabilities = _choice_list(ConnectorCapability, "connector capabilities")
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["evse_id", "id"]
        constraints = [
            models.UniqueConstraint(
                "evse",
                Lower("ocpi_id"),
                name="connector_unique_id_per_evse",
                violation_error_message="This EVSE already has a connector with this id "
                "(ids ignore case).",
            ),
        ]

    _loaded_evse_id: int | None = None

    def __str__(self) -> str:
        return f"{self.evse} #{self.ocpi_id}"

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Connector:
        instance = super().from_db(db, field_names, values)
        instance._loaded_evse_id = instance.__dict__.get("evse_id")
        return instance

    def clean(self) -> None:
        super().clean()
        if self._loaded_evse_id and self.evse_id != self._loaded_evse_id:
            raise ValidationError({"evse": "A connector stays with its EVSE; add a new one."})

    def save(self, *args: Any, touch: bool = True, **kwargs: Any) -> None:
        self.clean()
        if touch:
            self.last_updated = timezone.now()
        super().save(*args, **kwargs)
        self._loaded_evse_id = self.evse_id
        if touch:
            _cascade_last_updated(self.evse_id, self.last_updated)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """A connector that disappears changes its EVSE and location for partners too."""
        evse_pk = self.evse_id
        result = super().delete(*args, **kwargs)
        _cascade_last_updated(evse_pk, timezone.now())
        return result


def _cascade_last_updated(evse_pk: int, when: datetime) -> None:
    """A changed connector changes its EVSE and location for partners that sync by last_updated."""
    EVSE.objects.filter(pk=evse_pk).update(last_updated=when)
    Location.objects.filter(evses__pk=evse_pk).update(last_updated=when)
