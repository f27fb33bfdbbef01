"""The versions module: our versions, and per version exactly the endpoints that exist."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve, reverse

from roaming.choices import InterfaceRole, ModuleID, OcpiVersion
from roaming.transport.links import OCPI_MOUNT
from roaming.versions import registry
from roaming.versions.registry import ModuleEntry, mounted_modules
from tests.roaming.conftest import auth

pytestmark = pytest.mark.django_db


def test_versions_lists_each_version_at_our_public_base_url(
    client: Client, registered, settings
) -> None:
    settings.OCPI_BASE_URL = "https://cpms.example.com/ocpi"
    _, token = registered
    data = client.get("/ocpi/versions", headers=auth(token)).json()["data"]
    assert data == [
        {"version": version, "url": f"https://cpms.example.com/ocpi/{version}/"}
        for version in ("2.1.1", "2.2.1", "2.3.0")
    ]


def test_every_listed_version_url_answers_details(client: Client, registered) -> None:
    _, token = registered
    for item in client.get("/ocpi/versions", headers=auth(token)).json()["data"]:
        path = item["url"].removeprefix("http://localhost:8000")
        details = client.get(path, headers=auth(token)).json()["data"]
        assert details["version"] == item["version"]


def test_details_list_credentials_with_the_sender_role(client: Client, registered) -> None:
    _, token = registered
    details = client.get("/ocpi/2.2.1/", headers=auth(token)).json()["data"]
    assert {
        "identifier": "credentials",
        "role": "SENDER",
        "url": "http://localhost:8000/ocpi/2.2.1/credentials",
    } in details["endpoints"]


def test_2_1_1_endpoints_have_no_role(client: Client, registered) -> None:
    _, token = registered
    details = client.get("/ocpi/2.1.1/", headers=auth(token)).json()["data"]
    assert details["endpoints"]
    assert all(set(endpoint) == {"identifier", "url"} for endpoint in details["endpoints"])


def mounted_prefixes() -> set[str]:
    """Paths under /ocpi/ at which a module's URLconf is included."""
    (ocpi,) = [p for p in get_resolver().url_patterns if str(p.pattern) == OCPI_MOUNT[1:]]
    assert isinstance(ocpi, URLResolver)
    return {
        f"{OCPI_MOUNT}{pattern.pattern}"
        for pattern in ocpi.url_patterns
        if isinstance(pattern, URLResolver)
    }


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
def test_every_advertised_endpoint_is_routed(client: Client, registered, version: str) -> None:
    _, token = registered
    details = client.get(f"/ocpi/{version}/", headers=auth(token)).json()["data"]
    prefixes = mounted_prefixes()
    for endpoint in details["endpoints"]:
        path = endpoint["url"].removeprefix("http://localhost:8000")
        assert path + "/" in prefixes


def test_credentials_route_resolves_with_its_version() -> None:
    assert resolve("/ocpi/2.3.0/credentials/").kwargs["version"] == "2.3.0"


def test_a_module_without_urls_is_neither_mounted_nor_advertised(monkeypatch) -> None:
    unbuilt = ModuleEntry(ModuleID.TOKENS, InterfaceRole.RECEIVER, urlconf="roaming.nothing.urls")
    monkeypatch.setattr(registry, "MODULES", (*registry.MODULES, unbuilt))
    assert unbuilt not in mounted_modules(OcpiVersion.V2_2_1)
    assert all(
        entry.urlconf_path != "roaming.nothing.urls"
        for entry in mounted_modules(OcpiVersion.V2_2_1)
    )


def test_a_module_is_mounted_only_for_its_versions(monkeypatch) -> None:
    later = ModuleEntry(
        ModuleID.HUB_CLIENT_INFO,
        InterfaceRole.RECEIVER,
        registry.SINCE_2_2_1,
        urlconf="roaming.credentials.urls",
    )
    monkeypatch.setattr(registry, "MODULES", (later,))
    assert mounted_modules(OcpiVersion.V2_1_1) == []
    assert mounted_modules(OcpiVersion.V2_3_0) == [later]


def test_versions_need_a_token(client: Client) -> None:
    assert client.get("/ocpi/versions").status_code == 401


def test_ocpi_mount_matches_the_project_urls() -> None:
    assert reverse("ocpi:versions").startswith(OCPI_MOUNT)
