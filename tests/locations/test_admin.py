"""Staff admin of locations, EVSEs and connectors: pages, forms, rules and actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from locations.choices import Status
from locations.models import EVSE, Connector, Location
from roaming.models import Party
from tests.locations.admin_forms import changeform_data, inline_rows
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory

LOCATION_ADD = reverse("admin:locations_location_add")
LOCATION_LIST = reverse("admin:locations_location_changelist")
EVSE_LIST = reverse("admin:locations_evse_changelist")


def _location_change(location: Location) -> str:
    return reverse("admin:locations_location_change", args=[location.pk])


def _evse_change(evse: EVSE) -> str:
    return reverse("admin:locations_evse_change", args=[evse.pk])


def _new_location(client: Client, owner: Party, **overrides: Any) -> dict[str, Any]:
    fields = {
        "owner": str(owner.pk),
        "ocpi_id": "LOC-NEW-1",
        "name": "Harbour",
        "address": "Kade 5",
        "city": "Rotterdam",
        "country": "NLD",
        "latitude": "51.905200",
        "longitude": "4.466000",
        "time_zone": "Europe/Amsterdam",
    }
    return changeform_data(client, LOCATION_ADD, **{**fields, **overrides})


@pytest.fixture
def network(db: None) -> Connector:
    """One location with an EVSE and a connector, so every list has a row to render."""
    return ConnectorFactory.create()


@pytest.mark.parametrize("model", ["location", "evse", "connector"])
def test_changelist_renders(admin_client: Client, network: Connector, model: str) -> None:
    response = admin_client.get(reverse(f"admin:locations_{model}_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


@pytest.mark.parametrize("model", ["location", "evse", "connector"])
def test_add_page_renders(admin_client: Client, model: str) -> None:
    assert admin_client.get(reverse(f"admin:locations_{model}_add")).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"evses__status__exact": "AVAILABLE"},
        {"evses__connectors__power_type__exact": "AC_3_PHASE"},
        {"publish__exact": "1"},
        {"country": "NLD"},
    ],
)
def test_location_list_filters_find_the_location(
    admin_client: Client, network: Connector, query: dict[str, str]
) -> None:
    response = admin_client.get(LOCATION_LIST, query)

    assert list(response.context["cl"].result_list) == [network.evse.location]


def test_location_list_counts_evses_not_removed_without_filter_duplicates(
    admin_client: Client,
) -> None:
    location = LocationFactory.create()
    EVSEFactory.create_batch(2, location=location, status=Status.AVAILABLE)
    EVSEFactory.create(location=location, status=Status.REMOVED)

    response = admin_client.get(LOCATION_LIST, {"evses__status__exact": "AVAILABLE"})

    (row,) = response.context["cl"].result_list
    assert row.evse_count == 2


def test_location_search_finds_by_evse_id(admin_client: Client, network: Connector) -> None:
    LocationFactory.create(name="Elsewhere")

    response = admin_client.get(LOCATION_LIST, {"q": network.evse.evse_id})

    assert list(response.context["cl"].result_list) == [network.evse.location]


def test_location_change_page_links_coordinates_to_openstreetmap(
    admin_client: Client, network: Connector
) -> None:
    location = network.evse.location

    response = admin_client.get(_location_change(location))

    assert (
        "https://www.openstreetmap.org/?mlat=52.378901&amp;mlon=4.900272#map=17/52.378901/4.900272"
    ) in response.content.decode()


def test_location_change_page_lists_evses_with_link_and_connectors(
    admin_client: Client, network: Connector
) -> None:
    response = admin_client.get(_location_change(network.evse.location))

    html = response.content.decode()
    assert _evse_change(network.evse) in html
    assert f"#{network.ocpi_id} IEC_62196_T2 AC_3_PHASE 22080 W" in html


def test_json_fields_show_an_example(admin_client: Client) -> None:
    response = admin_client.get(LOCATION_ADD)

    assert "Example: <code>{&quot;twentyfourseven&quot;: false" in response.content.decode()


def test_location_added_through_the_form(admin_client: Client, our_cpo: Party) -> None:
    response = admin_client.post(LOCATION_ADD, _new_location(admin_client, our_cpo))

    assert response.status_code == 302
    location = Location.objects.get(ocpi_id="LOC-NEW-1")
    assert location.owner == our_cpo
    assert location.publish_allowed_to == []
    assert location.facilities == []


def test_location_added_with_evses_inline(admin_client: Client, our_cpo: Party) -> None:
    data = _new_location(admin_client, our_cpo)
    data.update(
        inline_rows(
            "evses", 0, [{"uid": "BAY-1", "evse_id": "NL*OPN*E7001", "status": "AVAILABLE"}]
        )
    )

    response = admin_client.post(LOCATION_ADD, data)

    assert response.status_code == 302
    assert Location.objects.get(ocpi_id="LOC-NEW-1").evses.get().evse_id == "NL*OPN*E7001"


def test_location_form_refuses_a_partner_as_owner(admin_client: Client, emsp: Party) -> None:
    response = admin_client.post(LOCATION_ADD, _new_location(admin_client, emsp))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["owner"] == [
        "DE-EMS is not one of our CPO identities; only those may own this."
    ]
    assert "DE-EMS is not one of our CPO identities" in response.content.decode()
    assert not Location.objects.exists()


def test_location_owner_choices_are_our_cpo_identities_only(
    admin_client: Client, our_cpo: Party, emsp: Party
) -> None:
    response = admin_client.get(LOCATION_ADD)

    owners = response.context["adminform"].form.fields["owner"].queryset
    assert our_cpo in owners
    assert emsp not in owners


def test_location_form_reports_malformed_opening_times(
    admin_client: Client, our_cpo: Party
) -> None:
    data = _new_location(admin_client, our_cpo, opening_times='{"regular_hours": []}')

    response = admin_client.post(LOCATION_ADD, data)

    assert response.context["adminform"].form.errors["opening_times"] == [
        "'twentyfourseven' is a required property"
    ]


def test_location_form_reports_json_that_does_not_parse(
    admin_client: Client, our_cpo: Party
) -> None:
    data = _new_location(admin_client, our_cpo, opening_times="{twentyfourseven: true")

    response = admin_client.post(LOCATION_ADD, data)

    assert response.context["adminform"].form.errors["opening_times"] == ["Enter a valid JSON."]


def test_location_form_reports_duplicate_id_of_same_owner(
    admin_client: Client, our_cpo: Party
) -> None:
    LocationFactory.create(owner=our_cpo, ocpi_id="LOC-NEW-1")

    response = admin_client.post(
        LOCATION_ADD, _new_location(admin_client, our_cpo, ocpi_id="loc-new-1")
    )

    assert response.status_code == 200
    assert "A location with this OCPI id already exists" in str(
        response.context["adminform"].form.errors
    )
    assert Location.objects.count() == 1


def _inline_errors(response: Any) -> list[str]:
    return [
        message
        for inline in response.context["inline_admin_formsets"]
        for message in inline.formset.non_form_errors()
    ]


def test_location_form_refuses_two_new_evses_with_the_same_uid(
    admin_client: Client, our_cpo: Party
) -> None:
    data = _new_location(admin_client, our_cpo)
    data.update(
        inline_rows(
            "evses",
            0,
            [{"uid": "BAY-1", "status": "AVAILABLE"}, {"uid": "bay-1", "status": "AVAILABLE"}],
        )
    )

    response = admin_client.post(LOCATION_ADD, data)

    assert response.status_code == 200
    assert _inline_errors(response) == [
        "Two rows share the UID 'bay-1'; it must be unique here (any case)."
    ]
    assert not Location.objects.exists()


def test_location_form_refuses_new_evse_uid_already_at_the_location(
    admin_client: Client, network: Connector
) -> None:
    location = network.evse.location
    data = changeform_data(admin_client, _location_change(location))
    data.update(inline_rows("evses", 1, [{"uid": network.evse.uid.lower(), "status": "AVAILABLE"}]))

    response = admin_client.post(_location_change(location), data)

    assert response.status_code == 200
    assert _inline_errors(response) == [
        f"Two rows share the UID '{network.evse.uid.lower()}'; it must be unique here (any case)."
    ]
    assert location.evses.count() == 1


def test_evse_add_page_refuses_uid_already_at_the_location(
    admin_client: Client, network: Connector
) -> None:
    location = network.evse.location
    data = changeform_data(
        admin_client,
        reverse("admin:locations_evse_add"),
        location=str(location.pk),
        uid=network.evse.uid.lower(),
        status="AVAILABLE",
    )

    response = admin_client.post(reverse("admin:locations_evse_add"), data)

    assert response.status_code == 200
    assert "This location already has an EVSE with this UID" in str(
        response.context["adminform"].form.errors
    )
    assert location.evses.count() == 1


def test_location_id_and_owner_are_fixed_once_saved(
    admin_client: Client, network: Connector
) -> None:
    location = network.evse.location
    data = changeform_data(admin_client, _location_change(location), name="Renamed")
    data.update(ocpi_id="CHANGED", owner="999")

    response = admin_client.post(_location_change(location), data)

    assert response.status_code == 302
    location.refresh_from_db()
    assert (location.name, location.ocpi_id) == ("Renamed", network.evse.location.ocpi_id)


def _action(client: Client, url: str, action: str, pks: list[int], **extra: str) -> Any:
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: pks, **extra}, follow=True)


def test_publish_action_publishes(admin_client: Client) -> None:
    location = LocationFactory.create(publish=False)

    response = _action(admin_client, LOCATION_LIST, "publish", [location.pk])

    location.refresh_from_db()
    assert location.publish is True
    assert "1 location(s) published." in response.content.decode()


def test_unpublish_action_unpublishes(admin_client: Client) -> None:
    location = LocationFactory.create(publish=True)

    _action(admin_client, LOCATION_LIST, "unpublish", [location.pk])

    location.refresh_from_db()
    assert location.publish is False


def test_location_out_of_order_action_marks_its_evses(admin_client: Client) -> None:
    location = LocationFactory.create()
    EVSEFactory.create_batch(2, location=location, status=Status.AVAILABLE)

    _action(admin_client, LOCATION_LIST, "mark_evses_out_of_order", [location.pk])

    assert set(location.evses.values_list("status", flat=True)) == {Status.OUTOFORDER}


def test_location_remove_action_asks_for_confirmation_first(admin_client: Client) -> None:
    evse = EVSEFactory.create(status=Status.AVAILABLE)

    response = _action(admin_client, LOCATION_LIST, "mark_evses_removed", [evse.location.pk])

    evse.refresh_from_db()
    assert evse.status == Status.AVAILABLE
    assert "They stay in the database and every partner is told" in response.content.decode()
    assert str(evse) in response.content.decode()


def test_location_remove_action_confirmed_marks_evses_removed(admin_client: Client) -> None:
    evse = EVSEFactory.create(status=Status.AVAILABLE)

    response = _action(
        admin_client, LOCATION_LIST, "mark_evses_removed", [evse.location.pk], post="yes"
    )

    evse.refresh_from_db()
    assert evse.status == Status.REMOVED
    assert "1 EVSE(s) marked as removed" in response.content.decode()


def test_evse_remove_action_confirmed_keeps_the_evse(admin_client: Client) -> None:
    evse = EVSEFactory.create(status=Status.AVAILABLE)

    _action(admin_client, EVSE_LIST, "mark_removed", [evse.pk], post="yes")

    assert EVSE.objects.get(pk=evse.pk).status == Status.REMOVED


def test_evse_out_of_order_action(admin_client: Client) -> None:
    evse = EVSEFactory.create(status=Status.AVAILABLE)

    _action(admin_client, EVSE_LIST, "mark_out_of_order", [evse.pk])

    evse.refresh_from_db()
    assert evse.status == Status.OUTOFORDER


def test_evse_cannot_be_deleted_in_admin(admin_client: Client) -> None:
    evse = EVSEFactory.create()

    response = admin_client.post(
        reverse("admin:locations_evse_delete", args=[evse.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert EVSE.objects.filter(pk=evse.pk).exists()


def test_evse_list_offers_remove_instead_of_delete(admin_client: Client) -> None:
    EVSEFactory.create()

    response = admin_client.get(EVSE_LIST)

    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "mark_removed" in actions


def test_evse_location_and_uid_are_fixed_once_saved(
    admin_client: Client, network: Connector
) -> None:
    evse = network.evse
    other = LocationFactory.create()
    data = changeform_data(admin_client, _evse_change(evse), physical_reference="B7")
    data.update(location=str(other.pk), uid="MOVED")

    response = admin_client.post(_evse_change(evse), data)

    assert response.status_code == 302
    evse.refresh_from_db()
    assert (evse.location, evse.physical_reference) == (network.evse.location, "B7")
    assert evse.uid != "MOVED"


def test_evse_form_reports_invalid_evse_id(admin_client: Client, network: Connector) -> None:
    evse = network.evse
    data = changeform_data(admin_client, _evse_change(evse), evse_id="NL-OPN-1")

    response = admin_client.post(_evse_change(evse), data)

    assert response.context["adminform"].form.errors["evse_id"] == [
        "EVSE id must follow the eMI3 format, for example NL*ABC*E12345."
    ]


def test_connector_added_inline_on_the_evse_page(admin_client: Client, network: Connector) -> None:
    evse = network.evse
    data = changeform_data(admin_client, _evse_change(evse))
    data.update(
        inline_rows(
            "connectors",
            1,
            [
                {
                    "ocpi_id": "CCS",
                    "standard": "IEC_62196_T2_COMBO",
                    "format": "CABLE",
                    "power_type": "DC",
                    "max_voltage": "920",
                    "max_amperage": "400",
                    "tariff_ids": "[]",
                }
            ],
        )
    )

    response = admin_client.post(_evse_change(evse), data)

    assert response.status_code == 302
    assert sorted(evse.connectors.values_list("ocpi_id", flat=True)) == sorted(
        [network.ocpi_id, "CCS"]
    )


def test_evse_page_refuses_two_new_connectors_with_the_same_id(
    admin_client: Client, network: Connector
) -> None:
    evse = network.evse
    row = {
        "ocpi_id": "X",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_1_PHASE",
        "max_voltage": "230",
        "max_amperage": "16",
        "tariff_ids": "[]",
    }
    data = changeform_data(admin_client, _evse_change(evse))
    data.update(inline_rows("connectors", 1, [row, {**row, "ocpi_id": "x"}]))

    response = admin_client.post(_evse_change(evse), data)

    assert response.status_code == 200
    assert _inline_errors(response) == [
        "Two rows share the OCPI id 'x'; it must be unique here (any case)."
    ]
    assert evse.connectors.count() == 1


def _queries_to_render(client: Client, url: str) -> int:
    client.get(url)  # warm the login session and permission caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("model", ["location", "evse", "connector"])
def test_changelist_query_count_does_not_grow_with_rows(admin_client: Client, model: str) -> None:
    url = reverse(f"admin:locations_{model}_changelist")
    ConnectorFactory.create()
    with_one = _queries_to_render(admin_client, url)
    ConnectorFactory.create_batch(4)

    assert _queries_to_render(admin_client, url) == with_one


def test_location_page_query_count_does_not_grow_with_evses(admin_client: Client) -> None:
    location = ConnectorFactory.create().evse.location
    url = _location_change(location)
    with_one = _queries_to_render(admin_client, url)
    for _ in range(4):
        ConnectorFactory.create(evse=EVSEFactory.create(location=location))

    assert _queries_to_render(admin_client, url) == with_one


def test_location_with_evses_cannot_be_deleted(admin_client: Client, network: Connector) -> None:
    location = network.evse.location

    response = admin_client.post(
        reverse("admin:locations_location_delete", args=[location.pk]), {"post": "yes"}
    )

    assert response.status_code == 200
    assert response.context["protected"]
    assert Location.objects.filter(pk=location.pk).exists()


def test_emptied_json_list_box_saves_an_empty_list(admin_client: Client, our_cpo: Party) -> None:
    data = _new_location(admin_client, our_cpo, publish_allowed_to="", images="")

    response = admin_client.post(LOCATION_ADD, data)

    assert response.status_code == 302
    location = Location.objects.get(ocpi_id="LOC-NEW-1")
    assert (location.publish_allowed_to, location.images) == ([], [])
