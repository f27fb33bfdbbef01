"""The one table of OCPI modules we may implement, per version, with the role we play in each.

Both the URL routes (roaming/urls.py) and the version details endpoint are built from it: a module
is mounted at /ocpi/<version>/<module>/ and advertised only when its URLconf exists, so a module
that is not built yet is never advertised. A module's URLconf is roaming/modules/<module id>/urls.py
(credentials: roaming/credentials/urls.py); its views receive the `version` keyword.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec

from django.urls import URLPattern, URLResolver, include, path

from roaming.choices import InterfaceRole, ModuleID, OcpiVersion

ALL_VERSIONS = tuple(OcpiVersion)
SINCE_2_2_1 = (OcpiVersion.V2_2_1, OcpiVersion.V2_3_0)


@dataclass(frozen=True)
class ModuleEntry:
    module: ModuleID
    role: InterfaceRole
    versions: tuple[OcpiVersion, ...] = ALL_VERSIONS
    urlconf: str = ""

    @property
    def urlconf_path(self) -> str:
        return self.urlconf or f"roaming.modules.{self.module.value}.urls"

    @property
    def route(self) -> str:
        return self.module.value


MODULES: tuple[ModuleEntry, ...] = (
    # For credentials the role means nothing; OCPI advises SENDER for one's own.
    ModuleEntry(ModuleID.CREDENTIALS, InterfaceRole.SENDER, urlconf="roaming.credentials.urls"),
    ModuleEntry(ModuleID.LOCATIONS, InterfaceRole.SENDER),
    ModuleEntry(ModuleID.TARIFFS, InterfaceRole.SENDER),
    ModuleEntry(ModuleID.SESSIONS, InterfaceRole.SENDER),
    ModuleEntry(ModuleID.CDRS, InterfaceRole.SENDER),
    ModuleEntry(ModuleID.TOKENS, InterfaceRole.RECEIVER),
    ModuleEntry(ModuleID.COMMANDS, InterfaceRole.RECEIVER),
    ModuleEntry(ModuleID.CHARGING_PROFILES, InterfaceRole.RECEIVER, SINCE_2_2_1),
    ModuleEntry(ModuleID.HUB_CLIENT_INFO, InterfaceRole.RECEIVER, SINCE_2_2_1),
)


def supported_versions() -> tuple[OcpiVersion, ...]:
    return ALL_VERSIONS


@cache
def _built(urlconf: str) -> bool:
    try:
        return find_spec(urlconf) is not None
    except ModuleNotFoundError:  # the module's package itself does not exist yet
        return False


def mounted_modules(version: OcpiVersion) -> list[ModuleEntry]:
    """The modules we serve for a version: declared for it, and built."""
    return [entry for entry in MODULES if version in entry.versions and _built(entry.urlconf_path)]


def module_url_patterns() -> list[URLPattern | URLResolver]:
    """/<version>/<module>/... for every mounted module; views get `version` as a keyword."""
    return [
        path(f"{version}/{entry.route}/", include(entry.urlconf_path), {"version": version.value})
        for version in supported_versions()
        for entry in mounted_modules(version)
    ]
