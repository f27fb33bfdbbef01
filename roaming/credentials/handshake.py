"""Reading the other side during a credentials exchange: its versions, then its endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roaming.choices import InterfaceRole, ModuleID, OcpiVersion
from roaming.client import OcpiClientError, PermanentError, call
from roaming.models import Partner
from roaming.transport.status import OcpiStatus
from roaming.versions.registry import supported_versions


class CredentialsError(Exception):
    """A credentials exchange failed; carries the OCPI status code that says why."""

    def __init__(self, status: OcpiStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    module: ModuleID
    role: str  # an InterfaceRole, or "" for 2.1.1
    url: str


@dataclass(frozen=True)
class Discovery:
    version: OcpiVersion
    endpoints: tuple[Endpoint, ...]

    def url_of(self, module: ModuleID) -> str:
        for endpoint in self.endpoints:
            if endpoint.module == module:
                return endpoint.url
        raise CredentialsError(
            OcpiStatus.NO_MATCHING_ENDPOINTS, f"The partner lists no {module.value} endpoint"
        )


def discover(
    *, versions_url: str, token: str, partner: Partner, version: OcpiVersion | None = None
) -> Discovery:
    """Fetch the partner's versions and the details of `version` (default: highest in common).

    Raises CredentialsError: 3001 when their API cannot be used, 3003 without a common version
    or without a credentials endpoint, 3002 when they lack the version asked for.
    """
    offered = _fetch_versions(versions_url, token, partner, version)
    chosen = _choose_version(set(offered), version)
    endpoints = _fetch_endpoints(offered[chosen.value], token, partner, chosen)
    discovery = Discovery(chosen, endpoints)
    discovery.url_of(ModuleID.CREDENTIALS)
    return discovery


def _fetch_versions(
    url: str, token: str, partner: Partner, preferred: OcpiVersion | None
) -> dict[str, str]:
    # Before a version is agreed we cannot know how they want the token: try the style of the
    # version in question first, the other one after a 401.
    styles = [preferred or OcpiVersion.V2_2_1, OcpiVersion.V2_1_1]
    if preferred == OcpiVersion.V2_1_1:
        styles.reverse()
    try:
        try:
            response = call("GET", url, partner=partner, token=token, version=styles[0])
        except PermanentError as error:
            if error.http_status != 401:
                raise
            response = call("GET", url, partner=partner, token=token, version=styles[1])
    except OcpiClientError as error:
        raise _unusable("versions", error) from error
    return _parse_versions(response.data)


def _unusable(what: str, error: OcpiClientError) -> CredentialsError:
    return CredentialsError(
        OcpiStatus.CLIENT_API_UNUSABLE,
        f"Could not read the partner's {what} at {error.url}: {error}",
    )


def _parse_versions(data: Any) -> dict[str, str]:
    """Version number -> details URL, for every version the partner lists."""
    if not isinstance(data, list):
        raise CredentialsError(
            OcpiStatus.CLIENT_API_UNUSABLE, "The partner's versions answer is not a list"
        )
    return {
        str(item.get("version")): item["url"]
        for item in data
        if isinstance(item, dict) and isinstance(item.get("url"), str)
    }


def _choose_version(theirs: set[str], wanted: OcpiVersion | None) -> OcpiVersion:
    common = {OcpiVersion(v) for v in theirs if v in OcpiVersion.values} & set(supported_versions())
    if not common:
        listed = ", ".join(sorted(theirs)) or "none"
        raise CredentialsError(
            OcpiStatus.NO_MATCHING_ENDPOINTS, f"No OCPI version in common (theirs: {listed})"
        )
    if wanted is None:
        return max(common, key=lambda version: supported_versions().index(version))
    if wanted not in common:
        raise CredentialsError(
            OcpiStatus.UNSUPPORTED_VERSION, f"The partner does not list version {wanted.value}"
        )
    return wanted


def _fetch_endpoints(
    url: str, token: str, partner: Partner, version: OcpiVersion
) -> tuple[Endpoint, ...]:
    try:
        response = call("GET", url, partner=partner, token=token, version=version)
    except OcpiClientError as error:
        raise _unusable("version details", error) from error
    data = response.data
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), list):
        raise CredentialsError(
            OcpiStatus.CLIENT_API_UNUSABLE, "The partner's version details have no endpoints"
        )
    return tuple(
        endpoint
        for endpoint in (_endpoint(item, version) for item in data["endpoints"])
        if endpoint is not None
    )


def _endpoint(item: Any, version: OcpiVersion) -> Endpoint | None:
    """One endpoint, or None for one we cannot use (custom or newer module, no URL)."""
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        return None
    module = item.get("identifier")
    if module not in ModuleID.values:
        return None
    role = item.get("role") if version != OcpiVersion.V2_1_1 else ""
    if role not in InterfaceRole.values:
        role = ""
    return Endpoint(ModuleID(module), str(role), item["url"][:255])
