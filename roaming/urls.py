"""OCPI URL routes: /ocpi/versions, /ocpi/<version>/ and every mounted module under it, and the
OpenAPI description of them all at /ocpi/openapi.json."""

from django.urls import URLPattern, URLResolver, path

from roaming.openapi import OcpiSchemaView
from roaming.versions.registry import module_url_patterns, supported_versions
from roaming.versions.views import VersionDetailsView, VersionsView

app_name = "ocpi"

urlpatterns: list[URLPattern | URLResolver] = [
    path("versions/", VersionsView.as_view(), name="versions"),
    path("openapi.json", OcpiSchemaView.as_view(), name="openapi"),
    *(
        path(
            f"{version}/",
            VersionDetailsView.as_view(),
            {"version": version.value},
            name="version-details",
        )
        for version in supported_versions()
    ),
    *module_url_patterns(),
]
