"""Public URLs of our OCPI endpoints, built from OCPI_BASE_URL (not from the request's Host)."""

from __future__ import annotations

from django.conf import settings

# Where cpms/urls.py mounts roaming.urls; a test pins the two together.
OCPI_MOUNT = "/ocpi/"


def is_ocpi_path(path: str) -> bool:
    return path.startswith(OCPI_MOUNT)


def public_url(path: str) -> str:
    """Public URL of a local path under the OCPI mount, e.g. '/ocpi/2.2.1/locations'."""
    if not is_ocpi_path(path):
        raise ValueError(f"{path!r} is not under {OCPI_MOUNT}")
    return f"{settings.OCPI_BASE_URL}/{path[len(OCPI_MOUNT) :]}"
