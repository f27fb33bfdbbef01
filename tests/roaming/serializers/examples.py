"""The official OCPI examples that are whole objects, and how each kind goes in and out of the DB.

Every example file of 2.2.1 and 2.3.0 that is a full Location, Tariff, Session, CDR or Token is
listed here (plus the Token objects inside the transport chapter's response examples). Known
mistakes of the examples are documented exceptions in ``FIXES``, each with its reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import Model

from billing.models import CDR, Tariff
from locations.models import Location
from roaming.choices import Role
from roaming.models import Party
from roaming.modules.cdrs.serializers import cdr_from_ocpi, cdr_to_ocpi, cdrs_for_ocpi
from roaming.modules.locations.serializers import (
    location_from_ocpi,
    location_to_ocpi,
    locations_for_ocpi,
)
from roaming.modules.sessions.serializers import (
    session_from_ocpi,
    session_to_ocpi,
    sessions_for_ocpi,
)
from roaming.modules.tariffs.serializers import (
    tariff_from_ocpi,
    tariff_to_ocpi,
    tariffs_for_ocpi,
)
from roaming.modules.tokens.serializers import token_from_ocpi, token_to_ocpi
from sessions_app.models import Session, Token
from tests.locations.factories import ConnectorFactory

Json = dict[str, Any]
VERSIONS = ("2.2.1", "2.3.0")
SPEC_DIR = Path("/work/shared/ocpi-spec")


def load_example(version: str, name: str) -> Any:
    with (SPEC_DIR / version / "examples" / name).open(encoding="utf-8") as handle:
        return json.load(handle)


def party(country_code: str, party_id: str, *, ours: bool) -> Party:
    """Our CPO identity (ours=True) or a partner eMSP with this code, created on first use."""
    role = Role.CPO if ours else Role.EMSP
    found, _ = Party.objects.get_or_create(
        country_code=country_code.upper(),
        party_id=party_id.upper(),
        defaults={"name": f"{country_code}-{party_id}", "is_ours": ours, "roles": [role.value]},
    )
    return found


@dataclass(frozen=True)
class Kind:
    """One OCPI object type: how an example is stored, read back and written out."""

    name: str
    module: str
    schema: str
    required: frozenset[str]
    store: Callable[[Json, str], Model]
    reload: Callable[[Model], Model]
    dump: Callable[[Model, str], Json]


def _store_location(data: Json, version: str) -> Model:
    owner = party(data["country_code"], data["party_id"], ours=True)
    return location_from_ocpi(data, owner=owner, version=version)  # type: ignore[arg-type]


def _reload_location(obj: Model) -> Model:
    return locations_for_ocpi(Location.objects.filter(pk=obj.pk)).get()


def session_world(data: Json) -> None:
    """The connector a session example names, under its CPO, and the eMSP of its token."""
    owner = party(data["country_code"], data["party_id"], ours=True)
    party(data["cdr_token"]["country_code"], data["cdr_token"]["party_id"], ours=False)
    ConnectorFactory(
        ocpi_id=data["connector_id"],
        evse__uid=data["evse_uid"],
        evse__location__owner=owner,
        evse__location__ocpi_id=data["location_id"],
    )


def _store_session(data: Json, version: str) -> Model:
    session_world(data)
    owner = party(data["country_code"], data["party_id"], ours=True)
    return session_from_ocpi(data, owner=owner, version=version)  # type: ignore[arg-type]


def _reload_session(obj: Model) -> Model:
    return sessions_for_ocpi(Session.objects.filter(pk=obj.pk)).get()


def _store_token(data: Json, version: str) -> Model:
    party(data["country_code"], data["party_id"], ours=False)
    return token_from_ocpi(data, version=version)  # type: ignore[arg-type]


def _reload_token(obj: Model) -> Model:
    return Token.objects.select_related("owner").get(pk=obj.pk)


def _store_tariff(data: Json, version: str) -> Model:
    owner = party(data["country_code"], data["party_id"], ours=True)
    return tariff_from_ocpi(data, owner=owner, version=version)  # type: ignore[arg-type]


def _reload_tariff(obj: Model) -> Model:
    return tariffs_for_ocpi(Tariff.objects.filter(pk=obj.pk)).get()


def _store_cdr(data: Json, version: str) -> Model:
    owner = party(data["country_code"], data["party_id"], ours=True)
    party(data["cdr_token"]["country_code"], data["cdr_token"]["party_id"], ours=False)
    return cdr_from_ocpi(data, owner=owner, version=version)  # type: ignore[arg-type]


def _reload_cdr(obj: Model) -> Model:
    return cdrs_for_ocpi(CDR.objects.filter(pk=obj.pk)).get()


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "location",
            "locations",
            "Location",
            frozenset({"id", "address", "city", "country", "coordinates", "time_zone"}),
            _store_location,
            _reload_location,
            location_to_ocpi,  # type: ignore[arg-type]
        ),
        Kind(
            "tariff",
            "tariffs",
            "Tariff",
            frozenset({"id", "currency", "elements"}),
            _store_tariff,
            _reload_tariff,
            tariff_to_ocpi,  # type: ignore[arg-type]
        ),
        Kind(
            "cdr",
            "cdrs",
            "CDR",
            frozenset({"id", "start_date_time", "cdr_token", "total_cost", "total_energy"}),
            _store_cdr,
            _reload_cdr,
            cdr_to_ocpi,  # type: ignore[arg-type]
        ),
        Kind(
            "session",
            "sessions",
            "Session",
            frozenset({"id", "start_date_time", "kwh", "cdr_token", "auth_method", "status"}),
            _store_session,
            _reload_session,
            session_to_ocpi,  # type: ignore[arg-type]
        ),
        Kind(
            "token",
            "tokens",
            "Token",
            frozenset({"uid", "type", "contract_id", "issuer", "valid", "whitelist"}),
            _store_token,
            _reload_token,
            token_to_ocpi,  # type: ignore[arg-type]
        ),
    )
}


def kind_of(name: str) -> str | None:
    """Which object type an example file holds, by the names the spec gives them."""
    if name.startswith("location_example"):
        return "location"
    if name.startswith(("tariff_", "tariffrestriction_example_")):
        return "tariff"
    if name.startswith("session_example_"):
        return "session"
    if name == "cdr_example.json":
        return "cdr"
    if name.startswith("token_example_") or name == "token_put_example.json":
        return "token"
    if name.startswith("transport_and_format_get_token"):
        return "token"
    return None


@dataclass(frozen=True)
class Example:
    version: str
    file: str
    kind: str
    index: int | None = None  # position inside a response envelope's data list

    @property
    def id(self) -> str:
        suffix = "" if self.index is None else f"[{self.index}]"
        return f"{self.version}/{self.file}{suffix}"

    def load(self) -> Json:
        document = load_example(self.version, self.file)
        if isinstance(document, dict) and "status_code" in document:
            data = document["data"]
            document = data if self.index is None else data[self.index]
        return copy.deepcopy(document)


def objects_in(version: str, file: str) -> list[int | None]:
    """Positions of the objects in a file: [None] for a bare object, indexes for an envelope."""
    document = load_example(version, file)
    if isinstance(document, dict) and "status_code" in document:
        data = document["data"]
        return list(range(len(data))) if isinstance(data, list) else [None]
    return [None]


def examples(kinds: tuple[str, ...] | None = None) -> Iterator[Example]:
    for version in VERSIONS:
        for path in sorted((SPEC_DIR / version / "examples").glob("*.json")):
            kind = kind_of(path.name)
            if kind is None or (kinds is not None and kind not in kinds):
                continue
            for index in objects_in(version, path.name):
                yield Example(version, path.name, kind, index)


@dataclass(frozen=True)
class Fix:
    """A documented mistake of an example: how to read it and what our output must then be."""

    reason: str
    given: Callable[[Json], Json] = field(default=lambda data: data)
    expected: Callable[[Json], Json] = field(default=lambda data: data)


def _with_last_updated(data: Json) -> Json:
    return {**data, "last_updated": "2015-06-29T20:39:09Z"}


def _parking_objects(data: Json) -> Json:
    for evse in data.get("evses", []):
        evse["parking"] = [{"parking_id": p} if isinstance(p, str) else p for p in evse["parking"]]
    return data


def _tariffs_tax_included(data: Json) -> Json:
    for tariff in data["tariffs"]:
        tariff.setdefault("tax_included", "NO")
    return data


FIXES: dict[tuple[str, str], Fix] = (
    {
        (version, "tariff_put_example.json"): Fix(
            "The example has no last_updated, which Tariff requires (it is rejected as given).",
            given=_with_last_updated,
            expected=_with_last_updated,
        )
        for version in VERSIONS
    }
    | {
        ("2.3.0", name): Fix(
            "EVSE.parking lists bare parking ids; the schema wants EVSEParking objects. We read a "
            "bare id as {parking_id} and always send objects.",
            expected=_parking_objects,
        )
        for name in ("location_example.json", "location_example_parking_garage_opening_hours.json")
    }
    | {
        ("2.3.0", "cdr_example.json"): Fix(
            "The tariff inside the CDR has no tax_included, which 2.3.0 requires (it is rejected "
            "as given).",
            given=_tariffs_tax_included,
            expected=_tariffs_tax_included,
        )
    }
)


def fix_for(example: Example) -> Fix:
    return FIXES.get((example.version, example.file), Fix("none"))
