"""Staff invite partners and register with them from the admin, as from the command line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from roaming.choices import OcpiVersion
from roaming.models import Partner, PartnerState
from tests.roaming.peer import Peer
from tests.roaming.test_credentials_e2e import closed_port_url

INVITE = reverse("admin:roaming_partner_invite")
REGISTER = reverse("admin:roaming_partner_register")


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer(versions=("2.1.1", "2.2.1")) as running:
        yield running


@pytest.mark.django_db
def test_invite_shows_the_versions_url_and_token_a_once(admin_client: Client) -> None:
    response = admin_client.post(
        INVITE, {"name": "New eMSP", "country_code": "de", "party_id": "new", "role": "EMSP"}
    )

    assert response.status_code == 200
    partner = Partner.objects.get(name="New eMSP")
    assert partner.state == PartnerState.INVITED
    invitation = response.context["invitation"]
    assert invitation["versions_url"].endswith("/ocpi/versions")
    assert invitation["token"] in response.content.decode()
    assert partner.token_prefix == invitation["token"][:4] + "…"  # only a masked prefix is kept


@pytest.mark.django_db
def test_invite_with_a_malformed_party_id_is_refused_with_a_form_error(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        INVITE, {"name": "Bad", "country_code": "DE", "party_id": "TOOLONG", "role": "EMSP"}
    )

    assert response.status_code == 200
    assert "party_id" in response.context["form"].errors
    assert not Partner.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_register_from_the_admin_connects_us_to_the_partner(
    admin_client: Client, live_server, settings, peer: Peer
) -> None:
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"

    response = admin_client.post(
        REGISTER, {"versions_url": peer.versions_url, "token": peer.issue_token_a(), "name": ""}
    )

    assert response.status_code == 200
    partner = Partner.objects.get(versions_url=peer.versions_url)
    assert partner.state == PartnerState.REGISTERED
    assert partner.version == OcpiVersion.V2_2_1


@pytest.mark.django_db
def test_register_with_an_unreachable_partner_shows_why(admin_client: Client) -> None:
    response = admin_client.post(
        REGISTER, {"versions_url": closed_port_url(), "token": "token-a", "name": ""}
    )

    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1
    assert errors[0].startswith("Registration failed")


@pytest.mark.django_db
def test_finance_staff_cannot_invite(client: Client, django_user_model) -> None:
    user = django_user_model.objects.create_user("clerk", password="pw-not-used", is_staff=True)
    client.force_login(user)

    assert client.get(INVITE).status_code == 403


@pytest.mark.django_db
def test_partner_list_links_to_invite_and_register(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:roaming_partner_changelist")).content.decode()

    assert INVITE in page
    assert REGISTER in page
