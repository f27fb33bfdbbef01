"""OCPI enumerations of tariffs and CDRs (2.2.1 and 2.3.0 values; 2.3.0 additions marked).

AuthMethod and CdrDimensionType are shared with sessions and live in sessions_app.choices.
"""

from django.db import models


class TariffType(models.TextChoices):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT", "Ad hoc payment"
    PROFILE_CHEAP = "PROFILE_CHEAP", "Profile cheap"
    PROFILE_FAST = "PROFILE_FAST", "Profile fast"
    PROFILE_GREEN = "PROFILE_GREEN", "Profile green"
    REGULAR = "REGULAR", "Regular"


class TariffDimensionType(models.TextChoices):
    ENERGY = "ENERGY", "Energy (per kWh, step in Wh)"
    FLAT = "FLAT", "Flat fee"
    PARKING_TIME = "PARKING_TIME", "Parking time (per hour, step in seconds)"
    TIME = "TIME", "Charging time (per hour, step in seconds)"


class DayOfWeek(models.TextChoices):
    MONDAY = "MONDAY", "Monday"
    TUESDAY = "TUESDAY", "Tuesday"
    WEDNESDAY = "WEDNESDAY", "Wednesday"
    THURSDAY = "THURSDAY", "Thursday"
    FRIDAY = "FRIDAY", "Friday"
    SATURDAY = "SATURDAY", "Saturday"
    SUNDAY = "SUNDAY", "Sunday"


class ReservationRestrictionType(models.TextChoices):
    RESERVATION = "RESERVATION", "Reservation"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES", "Reservation expires"


class BookingRestrictionType(models.TextChoices):
    """2.3.0 (bookings module): the element prices a booking rather than a charging session."""

    BOOKING = "BOOKING", "Booking"
    BOOKING_EXPIRES = "BOOKING_EXPIRES", "Booking expires"
    BOOKING_CANCELLATION_FEES = "BOOKING_CANCELLATION_FEES", "Booking cancellation fees"
    BOOKING_OVERTIME = "BOOKING_OVERTIME", "Booking overtime"


class TaxIncluded(models.TextChoices):
    """2.3.0: whether the prices of a tariff include taxes (2.2.1 prices always exclude VAT)."""

    YES = "YES", "Yes"
    NO = "NO", "No"
    NOT_APPLICABLE = "N/A", "N/A"
