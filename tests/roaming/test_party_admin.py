"""Staff admin of parties: partners editable, our own identities (from settings) read-only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from roaming.models import Party

LIST = reverse("admin:roaming_party_changelist")
ADD = reverse("admin:roaming_party_add")


def _change(party: Party) -> str:
    return reverse("admin:roaming_party_change", args=[party.pk])


def test_party_changelist_renders(admin_client: Client, our_cpo: Party, emsp: Party) -> None:
    response = admin_client.get(LIST)

    assert response.status_code == 200
    assert {our_cpo, emsp} <= set(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("query", "expected"),
    [({"is_ours__exact": "1"}, "ours"), ({"is_ours__exact": "0"}, "partners")],
)
def test_party_list_filters_ours_and_partners(
    admin_client: Client, our_cpo: Party, emsp: Party, query: dict[str, str], expected: str
) -> None:
    response = admin_client.get(LIST, query)

    shown = set(response.context["cl"].result_list)
    assert (our_cpo in shown, emsp in shown) == (
        (True, False) if expected == "ours" else (False, True)
    )


def test_party_list_filters_by_role(admin_client: Client, our_cpo: Party, emsp: Party) -> None:
    response = admin_client.get(LIST, {"role": "EMSP"})

    assert list(response.context["cl"].result_list) == [emsp]


def test_party_search_by_name(admin_client: Client, emsp: Party, outsider: Party) -> None:
    response = admin_client.get(LIST, {"q": "outsider"})

    assert list(response.context["cl"].result_list) == [outsider]


@pytest.mark.parametrize("term", ["DE-EMS", "de*ems"])
def test_party_search_by_code(
    admin_client: Client, emsp: Party, outsider: Party, term: str
) -> None:
    response = admin_client.get(LIST, {"q": term})

    assert list(response.context["cl"].result_list) == [emsp]


def test_our_party_is_view_only(admin_client: Client, our_cpo: Party) -> None:
    response = admin_client.get(_change(our_cpo))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False


def test_our_party_cannot_be_changed_by_post(admin_client: Client, our_cpo: Party) -> None:
    response = admin_client.post(_change(our_cpo), {"name": "Hijacked", "roles": ["EMSP"]})

    assert response.status_code == 403
    our_cpo.refresh_from_db()
    assert our_cpo.name != "Hijacked"


def test_our_party_cannot_be_deleted(admin_client: Client, our_cpo: Party) -> None:
    response = admin_client.post(
        reverse("admin:roaming_party_delete", args=[our_cpo.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Party.objects.filter(pk=our_cpo.pk).exists()


def test_party_list_offers_no_bulk_delete(admin_client: Client, emsp: Party) -> None:
    response = admin_client.get(LIST)

    action_form = response.context["action_form"]
    assert action_form is None or "delete_selected" not in [
        name for name, _ in action_form.fields["action"].choices
    ]


def test_partner_added_through_the_form_is_never_ours(admin_client: Client) -> None:
    response = admin_client.post(
        ADD,
        {
            "country_code": "be",
            "party_id": "abc",
            "name": "Belgian eMSP",
            "roles": ["EMSP"],
            "website": "",
            "is_ours": "on",
        },
    )

    assert response.status_code == 302
    party = Party.objects.get(party_id="ABC")
    assert (party.country_code, party.is_ours, party.roles) == ("BE", False, ["EMSP"])


def test_partner_form_requires_a_role(admin_client: Client) -> None:
    response = admin_client.post(
        ADD,
        {
            "country_code": "BE",
            "party_id": "ABC",
            "name": "Belgian eMSP",
            "website": "",
        },
    )

    assert response.status_code == 200
    assert "roles" in response.context["adminform"].form.errors
    assert not Party.objects.filter(party_id="ABC").exists()


def test_partner_name_is_editable_but_its_code_is_fixed(admin_client: Client, emsp: Party) -> None:
    response = admin_client.post(
        _change(emsp),
        {
            "country_code": "FR",
            "party_id": "NEW",
            "name": "Renamed eMSP",
            "roles": ["EMSP"],
            "website": "",
        },
    )

    assert response.status_code == 302
    emsp.refresh_from_db()
    assert (emsp.code, emsp.name) == ("DE-EMS", "Renamed eMSP")
