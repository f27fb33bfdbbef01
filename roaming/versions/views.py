"""GET /ocpi/versions and GET /ocpi/<version>: what we speak, and where."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response

from roaming.choices import OcpiVersion
from roaming.transport.auth import TokenScope
from roaming.transport.envelope import ocpi_response
from roaming.transport.links import public_url
from roaming.transport.views import OcpiView
from roaming.versions.registry import ModuleEntry, mounted_modules, supported_versions


def version_details_url(version: OcpiVersion) -> str:
    return public_url(reverse("ocpi:version-details", kwargs={"version": version.value}))


def module_url(version: OcpiVersion, entry: ModuleEntry) -> str:
    details = reverse("ocpi:version-details", kwargs={"version": version.value})
    return public_url(f"{details.rstrip('/')}/{entry.route}")


def endpoint_object(version: OcpiVersion, entry: ModuleEntry) -> dict[str, str]:
    endpoint = {"identifier": entry.module.value, "url": module_url(version, entry)}
    if version != OcpiVersion.V2_1_1:  # interface roles arrived with 2.2
        endpoint["role"] = entry.role.value
    return endpoint


class VersionsView(OcpiView):
    """The versions we support and the URL of each one's details."""

    token_scope = TokenScope.VERSIONS

    def get(self, request: Request, **kwargs: Any) -> Response:
        return ocpi_response(
            [
                {"version": version.value, "url": version_details_url(version)}
                for version in supported_versions()
            ]
        )


class VersionDetailsView(OcpiView):
    """The endpoints (module, our interface role, URL) we implement for one version."""

    token_scope = TokenScope.VERSIONS

    def get(self, request: Request, **kwargs: Any) -> Response:
        version = self.ocpi_version
        endpoints = [endpoint_object(version, entry) for entry in mounted_modules(version)]
        return ocpi_response({"version": version.value, "endpoints": endpoints})
