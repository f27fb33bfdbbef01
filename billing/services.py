"""Services of billing that change tariffs across objects."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import F

from billing.models import Tariff, TariffElement

# Existing elements are moved this far up while the edited ones take their new positions.
# Positions are capped well below it (see TariffElement.position).
_PARKED = 1_000_000


@transaction.atomic
def tariff_save_from_admin(*, tariff: Tariff, save_elements: Callable[[], object]) -> Tariff:
    """Save staff's edit of a tariff together with its elements and price components.

    ``save_elements`` saves the edited elements and components (the admin's inline formsets).
    An element's position is unique within its tariff, so reordering row by row would collide
    halfway (two elements swapping places); the stored elements are therefore moved out of the
    way first, and those not saved again go back to their own positions afterwards. All of it is
    one transaction: partners never see half an edit.
    """
    tariff.save()
    parked = TariffElement.objects.filter(tariff=tariff)
    parked.update(position=F("position") + _PARKED)
    save_elements()
    parked.filter(position__gte=_PARKED).update(position=F("position") - _PARKED)
    tariff.refresh_from_db(fields=["last_updated"])
    return tariff
