"""The billing admin as staff use it: tariffs with nested elements, and read-only CDRs."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from billing.choices import DayOfWeek, TariffDimensionType
from billing.models import CDR, PriceComponent, Tariff, TariffElement
from roaming.models import Party
from tests.billing.factories import CDRFactory, PriceComponentFactory, TariffFactory

pytestmark = pytest.mark.django_db

TARIFF_ADD = reverse("admin:billing_tariff_add")
RESTRICTIONS = (
    "start_time",
    "end_time",
    "start_date",
    "end_date",
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

ENERGY = {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": "1"}
FLAT = {"type": "FLAT", "price": "0.50", "vat": "20", "step_size": "1"}
TIME = {"type": "TIME", "price": "2.00", "vat": "20", "step_size": "300"}


def _element(*components: dict[str, str], **restrictions: Any) -> dict[str, Any]:
    return {"components": list(components), "restrictions": restrictions}


def _tariff_form(owner: Party, *elements: dict[str, Any], **fields: str) -> dict[str, Any]:
    """The POST body of the tariff add/change form, as the browser sends it."""
    data: dict[str, Any] = {
        "owner": str(owner.pk),
        "ocpi_id": "12",
        "currency": "EUR",
        "type": "",
        "tax_included": "NO",
        "tariff_alt_text": "[]",
        "tariff_alt_url": "",
        "energy_mix": "",
        "min_price_before_taxes": "",
        "min_price_after_taxes": "",
        "max_price_before_taxes": "",
        "max_price_after_taxes": "",
        "preauthorize_amount": "",
        "start_date_time_0": "",
        "start_date_time_1": "",
        "end_date_time_0": "",
        "end_date_time_1": "",
        "elements-TOTAL_FORMS": str(len(elements)),
        "elements-INITIAL_FORMS": "0",
        "elements-MIN_NUM_FORMS": "1",
        "elements-MAX_NUM_FORMS": "1000",
        **fields,
    }
    initial_elements = 0
    for i, element in enumerate(elements):
        prefix = f"elements-{i}"
        restrictions = dict(element["restrictions"])
        element_id = restrictions.pop("id", "")
        initial_elements += bool(element_id)
        data.update({f"{prefix}-id": element_id, f"{prefix}-position": str(i)})
        data.update({f"{prefix}-{name}": "" for name in RESTRICTIONS})
        for name, value in restrictions.items():
            data[f"{prefix}-{name}"] = value
        components = element["components"]
        nested = f"{prefix}-price_components"
        data.update(
            {
                f"{nested}-TOTAL_FORMS": str(len(components)),
                f"{nested}-INITIAL_FORMS": str(sum(bool(c.get("id")) for c in components)),
                f"{nested}-MIN_NUM_FORMS": "1",
                f"{nested}-MAX_NUM_FORMS": "1000",
            }
        )
        for j, component in enumerate(components):
            data.update({f"{nested}-{j}-position": str(j), f"{nested}-{j}-id": ""})
            data.update({f"{nested}-{j}-{k}": v for k, v in component.items()})
    data["elements-INITIAL_FORMS"] = str(initial_elements)
    return data


# --- Tariff admin ------------------------------------------------------------------------------


def test_tariff_add_page_shows_elements_with_nested_price_components(
    admin_client: Client, our_cpo: Party
) -> None:
    response = admin_client.get(TARIFF_ADD)

    assert response.status_code == 200
    assert b'name="elements-0-start_time"' in response.content
    assert b'name="elements-0-price_components-0-type"' in response.content


def test_tariff_add_page_offers_only_our_cpo_identities_as_owner(
    admin_client: Client, our_cpo: Party, emsp: Party
) -> None:
    owner_field = admin_client.get(TARIFF_ADD).context["adminform"].form.fields["owner"]

    assert emsp not in owner_field.queryset
    assert our_cpo in owner_field.queryset


def test_tariff_with_two_elements_is_saved_through_the_admin(
    admin_client: Client, our_cpo: Party
) -> None:
    data = _tariff_form(
        our_cpo,
        _element(
            TIME,
            FLAT,
            start_time="09:00",
            end_time="18:00",
            day_of_week=[DayOfWeek.FRIDAY, DayOfWeek.MONDAY],
            max_current="32",
        ),
        _element(ENERGY),
    )

    response = admin_client.post(TARIFF_ADD, data)

    assert response.status_code == 302, response.context["errors"]
    first, second = TariffElement.objects.filter(tariff__ocpi_id="12").order_by("position")
    assert (first.position, second.position) == (0, 1)
    assert (first.start_time, first.end_time) == (datetime.time(9), datetime.time(18))
    assert first.day_of_week == ["MONDAY", "FRIDAY"]
    assert first.max_current == Decimal(32)
    assert [(c.type, c.price, c.step_size) for c in first.price_components.all()] == [
        ("TIME", Decimal("2.00"), 300),
        ("FLAT", Decimal("0.50"), 1),
    ]
    assert [c.type for c in second.price_components.all()] == ["ENERGY"]


def test_tariff_owned_by_a_partner_is_refused_by_the_admin_with_a_clear_message(
    admin_client: Client, our_cpo: Party, emsp: Party
) -> None:
    response = admin_client.post(TARIFF_ADD, _tariff_form(emsp, _element(ENERGY)))

    assert response.status_code == 200
    assert "DE-EMS is not one of our CPO identities" in response.content.decode()
    assert not Tariff.objects.exists()


def test_duplicate_tariff_id_is_refused_by_the_admin(admin_client: Client, our_cpo: Party) -> None:
    TariffFactory.create(owner=our_cpo, ocpi_id="Tariff-12")

    response = admin_client.post(
        TARIFF_ADD, _tariff_form(our_cpo, _element(ENERGY), ocpi_id="TARIFF-12")
    )

    assert response.status_code == 200
    assert "already has a tariff with this OCPI id" in response.content.decode()
    assert Tariff.objects.count() == 1


def test_negative_price_is_refused_by_the_admin(admin_client: Client, our_cpo: Party) -> None:
    response = admin_client.post(
        TARIFF_ADD, _tariff_form(our_cpo, _element({**ENERGY, "price": "-0.25"}))
    )

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0" in response.content.decode()
    assert not Tariff.objects.exists()


def test_zero_step_size_is_refused_by_the_admin(admin_client: Client, our_cpo: Party) -> None:
    response = admin_client.post(
        TARIFF_ADD, _tariff_form(our_cpo, _element({**TIME, "step_size": "0"}))
    )

    assert response.status_code == 200
    assert "The step size must be at least 1 (except for FLAT)." in response.content.decode()
    assert not Tariff.objects.exists()


def test_element_without_price_components_is_refused_by_the_admin(
    admin_client: Client, our_cpo: Party
) -> None:
    response = admin_client.post(TARIFF_ADD, _tariff_form(our_cpo, _element(start_time="09:00")))

    assert response.status_code == 200
    assert "An element needs at least one price component." in response.content.decode()
    assert not Tariff.objects.exists()


def test_tariff_without_elements_is_refused_by_the_admin(
    admin_client: Client, our_cpo: Party
) -> None:
    response = admin_client.post(TARIFF_ADD, _tariff_form(our_cpo))

    assert response.status_code == 200
    assert not Tariff.objects.exists()


def test_pricing_a_dimension_twice_in_one_element_is_refused_by_the_admin(
    admin_client: Client, our_cpo: Party
) -> None:
    response = admin_client.post(
        TARIFF_ADD, _tariff_form(our_cpo, _element(ENERGY, {**ENERGY, "price": "0.30"}))
    )

    assert response.status_code == 200
    assert "Price ENERGY only once per element" in response.content.decode()


def test_element_range_that_can_never_match_is_refused_by_the_admin(
    admin_client: Client, our_cpo: Party
) -> None:
    response = admin_client.post(
        TARIFF_ADD, _tariff_form(our_cpo, _element(ENERGY, min_kwh="20", max_kwh="10"))
    )

    assert response.status_code == 200
    assert "Min kWh must be below max kWh." in response.content.decode()


def test_elements_can_swap_places_through_the_admin(admin_client: Client, our_cpo: Party) -> None:
    tariff = TariffFactory.create(owner=our_cpo, ocpi_id="12")
    energy = PriceComponentFactory.create(element__tariff=tariff, element__position=0).element
    time = PriceComponentFactory.create(
        element__tariff=tariff, element__position=1, type=TariffDimensionType.TIME
    ).element
    data = _tariff_form(
        our_cpo,
        _element({**TIME, "id": ""}, id=str(time.pk)),
        _element({**ENERGY, "id": ""}, id=str(energy.pk)),
    )
    # The stored components are kept as they are: mark them as the initial forms.
    for i, element in enumerate((time, energy)):
        component = element.price_components.get()
        data[f"elements-{i}-price_components-0-id"] = str(component.pk)
        data[f"elements-{i}-price_components-INITIAL_FORMS"] = "1"
        data[f"elements-{i}-price_components-0-element"] = str(element.pk)
        data[f"elements-{i}-price_components-0-type"] = component.type
        data[f"elements-{i}-price_components-0-price"] = str(component.price)
        data[f"elements-{i}-tariff"] = str(tariff.pk)

    response = admin_client.post(reverse("admin:billing_tariff_change", args=[tariff.pk]), data)

    assert response.status_code == 302, response.context["errors"]
    time.refresh_from_db()
    energy.refresh_from_db()
    assert (time.position, energy.position) == (0, 1)


def test_deleting_a_tariff_in_the_admin_keeps_it_marked_deleted(
    admin_client: Client, our_cpo: Party
) -> None:
    tariff = PriceComponentFactory.create(element__tariff__owner=our_cpo).element.tariff

    response = admin_client.post(
        reverse("admin:billing_tariff_delete", args=[tariff.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    tariff.refresh_from_db()
    assert tariff.deleted_at is not None
    assert PriceComponent.objects.filter(element__tariff=tariff).exists()


def test_restore_action_brings_back_deleted_tariffs(admin_client: Client, our_cpo: Party) -> None:
    tariff = TariffFactory.create(owner=our_cpo)
    tariff.delete()

    admin_client.post(
        reverse("admin:billing_tariff_changelist"),
        {"action": "restore_tariffs", "_selected_action": [str(tariff.pk)]},
    )

    tariff.refresh_from_db()
    assert tariff.deleted_at is None


def test_tariff_list_shows_the_number_of_elements(admin_client: Client, our_cpo: Party) -> None:
    tariff = TariffFactory.create(owner=our_cpo)
    PriceComponentFactory.create_batch(3, element__tariff=tariff)

    response = admin_client.get(reverse("admin:billing_tariff_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_list.get().element_count == 3


def test_tariff_list_filters_deleted_tariffs(admin_client: Client, our_cpo: Party) -> None:
    kept = TariffFactory.create(owner=our_cpo)
    TariffFactory.create(owner=our_cpo).delete()

    response = admin_client.get(reverse("admin:billing_tariff_changelist"), {"status": "active"})

    assert list(response.context["cl"].result_list) == [kept]


# --- CDR admin ---------------------------------------------------------------------------------


def test_cdr_list_shows_cdrs(admin_client: Client, emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)

    response = admin_client.get(reverse("admin:billing_cdr_changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [cdr]


def test_cdr_list_finds_a_cdr_by_token_uid(admin_client: Client, emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)
    CDRFactory.create(emsp=emsp, cdr_token={**cdr.cdr_token, "uid": "OTHER"})

    response = admin_client.get(reverse("admin:billing_cdr_changelist"), {"q": "012345678"})

    assert list(response.context["cl"].result_list) == [cdr]


def test_cdr_list_finds_a_cdr_by_evse_id(admin_client: Client, emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)

    response = admin_client.get(reverse("admin:billing_cdr_changelist"), {"q": "BE*BEC*E041503003"})

    assert list(response.context["cl"].result_list) == [cdr]


def test_cdrs_cannot_be_added_in_the_admin(admin_client: Client) -> None:
    assert admin_client.get(reverse("admin:billing_cdr_add")).status_code == 403


def test_cdr_page_is_read_only(admin_client: Client, emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)
    url = reverse("admin:billing_cdr_change", args=[cdr.pk])

    page = admin_client.get(url)
    post = admin_client.post(url, {"remark": "changed"})

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert post.status_code == 403
    assert CDR.objects.get(pk=cdr.pk).remark == ""


def test_cdrs_cannot_be_deleted_in_the_admin(admin_client: Client, emsp: Party) -> None:
    cdr = CDRFactory.create(emsp=emsp)

    response = admin_client.post(
        reverse("admin:billing_cdr_delete", args=[cdr.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert CDR.objects.filter(pk=cdr.pk).exists()
