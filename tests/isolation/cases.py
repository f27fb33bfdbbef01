"""The isolation matrix as a table: who tries what on whose object, by which channel, and the answer.

Actors are the five eMSP parties of the world (``world.py``); each one tries every operation
on every other party's object (its victim), through three channels:

* ``url``: the path names the victim's object (token path of the victim's party, the victim's
  session id in a charging profile or charging preferences path).
* ``header``: the connection claims to speak for the victim in OCPI-from-* (2.2.1 and 2.3.0 only;
  2.1.1 has no routing headers). Only for victims the connection does not relay for: the hub
  legitimately speaks for both of its parties.
* ``body``: the request goes to the actor's own URL, but the body names the victim's object
  (country_code/party_id of a token, the token of a command, a session_id, a reservation_id).

The hub also acts without any OCPI-from-* (as "HUB"): by URL it reaches none of the directly
connected parties' objects, and its pulls return exactly the objects of its two parties.

``pull`` cases read the list endpoints (sessions, CDRs) and must return exactly one's own objects;
``own`` cases are the controls: the same operation on one's own object succeeds, so that every
refusal above is the isolation rule at work and not a broken request.

The expected answers, read from the OCPI transport chapter and the module chapters:

* Another party's client-owned object (a token, by URL): HTTP 404, whether it exists or not.
* A routing header naming a party the connection does not speak for: HTTP 403.
* A body that disagrees with the URL or the caller (token country_code/party_id, the token of a
  2.2+ command): HTTP 200 with OCPI 2001. A 2.1.1 command token carries no party: it is taken
  as the caller's own token with that uid, and the other party's token stays untouched.
* Another party's session in a command or charging profile request: UNKNOWN_SESSION, exactly as
  a session that does not exist (its existence is not revealed); its charging preferences: 404.
* Another party's reservation in CANCEL_RESERVATION: REJECTED, as for an unknown reservation;
  a RESERVE_NOW reusing its reservation_id makes a reservation of the caller's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.isolation.world import (
    CODES,
    DIRECT,
    FREE_EVSE_UID,
    LOCATION_ID,
    RESERVATION_IDS,
    SHARED_UID,
    VIA_HUB,
)

V211, V221, V230 = "2.1.1", "2.2.1", "2.3.0"
ALL_VERSIONS = (V211, V221, V230)
ROUTED_VERSIONS = (V221, V230)
RESPONSE_URL = "https://emsp.example.com/ocpi/results/1"
UPDATED = "2025-06-29T22:39:09Z"
EXPIRY = "2099-01-01T10:00:00Z"
PROFILE = {
    "charging_rate_unit": "W",
    "charging_profile_period": [{"start_period": 0, "limit": 7400}],
}


@dataclass(frozen=True)
class Expect:
    """The answer a case must get: HTTP status, OCPI status code, and the result in its data."""

    http: int
    ocpi: int
    result: str | None = None
    # For pulls: the ids the list must hold, exactly.
    ids: tuple[str, ...] | None = None

    def __str__(self) -> str:
        extra = f" {self.result}" if self.result else ""
        return f"{self.http}/{self.ocpi}{extra}"


NOT_FOUND = Expect(404, 2000)
FORBIDDEN = Expect(403, 2000)
INVALID = Expect(200, 2001)
OK = Expect(200, 1000)


def result(name: str) -> Expect:
    return Expect(200, 1000, name)


@dataclass(frozen=True)
class Party:
    """The identity fields of a world party a request needs (no database access at collection)."""

    name: str

    @property
    def country_code(self) -> str:
        return CODES[self.name]

    @property
    def token_uid(self) -> str:
        return f"TOK{self.name}01"

    @property
    def contract_id(self) -> str:
        return f"{self.country_code}-{self.name}-C00000001"

    @property
    def session_id(self) -> str:
        return f"SES-{self.name}"

    @property
    def cdr_id(self) -> str:
        return f"CDR-{self.name}"

    @property
    def reservation_id(self) -> str:
        return RESERVATION_IDS[self.name]

    @property
    def via_hub(self) -> bool:
        return self.name in VIA_HUB


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)


# A request builder gets (version, actor, target): target is the victim, or the actor itself.
Builder = Callable[[str, Party, Party], Request]


@dataclass(frozen=True)
class Operation:
    kind: str
    channel: str  # "url" or "body": how the target is named
    name: str
    versions: tuple[str, ...]
    build: Builder
    foreign: Callable[[str], Expect]
    own: Callable[[str], Expect]
    # After the answer, let the charger accept the command (the reservation is made then).
    charger_accepts: bool = False


@dataclass(frozen=True)
class Case:
    kind: str
    channel: str
    operation: str
    version: str
    actor: str
    victim: str | None
    expect: Expect
    request: Request
    # The routing headers name this party (None: none sent).
    claims: str | None
    charger_accepts: bool = False

    @property
    def id(self) -> str:
        whom = f"{self.actor}->{self.victim}" if self.victim else self.actor
        return f"{self.version}|{self.kind}|{self.channel}|{self.operation}|{whom}|{self.expect}"


# --- bodies ---------------------------------------------------------------------------------------


def token_body(version: str, owner: Party, uid: str, **changes: Any) -> dict[str, Any]:
    """A Token as `owner` would push it, in the version's shape."""
    if version == V211:
        return {
            "uid": uid,
            "type": "RFID",
            "auth_id": owner.contract_id,
            "issuer": f"eMSP {owner.name}",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": UPDATED,
            **changes,
        }
    return {
        "country_code": owner.country_code,
        "party_id": owner.name,
        "uid": uid,
        "type": "RFID",
        "contract_id": owner.contract_id,
        "issuer": f"eMSP {owner.name}",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": UPDATED,
        **changes,
    }


def token_path(version: str, owner: Party, uid: str) -> str:
    return f"/ocpi/{version}/tokens/{owner.country_code}/{owner.name}/{uid}"


def reservation_id(version: str, value: str) -> str | int:
    return int(value) if version == V211 else value


# --- the operations -------------------------------------------------------------------------------


def _token_get(version: str, actor: Party, target: Party) -> Request:
    return Request("GET", token_path(version, target, target.token_uid))


def _token_get_shared_uid(version: str, actor: Party, target: Party) -> Request:
    return Request("GET", token_path(version, target, SHARED_UID))


def _token_put(version: str, actor: Party, target: Party) -> Request:
    body = token_body(version, target, target.token_uid, valid=False)
    return Request("PUT", token_path(version, target, target.token_uid), body)


def _token_patch(version: str, actor: Party, target: Party) -> Request:
    return Request(
        "PATCH",
        token_path(version, target, target.token_uid),
        {"valid": False, "last_updated": UPDATED},
    )


def _token_put_naming_target(version: str, actor: Party, target: Party) -> Request:
    body = token_body(version, target, actor.token_uid, valid=False)
    return Request("PUT", token_path(version, actor, actor.token_uid), body)


def _token_patch_naming_target(version: str, actor: Party, target: Party) -> Request:
    body = {"country_code": target.country_code, "party_id": target.name, "last_updated": UPDATED}
    return Request("PATCH", token_path(version, actor, actor.token_uid), body)


def _start_with_token_of(version: str, actor: Party, target: Party) -> Request:
    body = {
        "response_url": RESPONSE_URL,
        "token": token_body(version, target, target.token_uid),
        "location_id": LOCATION_ID,
        "evse_uid": FREE_EVSE_UID,
    }
    return Request("POST", f"/ocpi/{version}/commands/START_SESSION", body)


def _reserve_with_token_of(version: str, actor: Party, target: Party) -> Request:
    body = {
        "response_url": RESPONSE_URL,
        "token": token_body(version, target, target.token_uid),
        "expiry_date": EXPIRY,
        "reservation_id": reservation_id(version, "9999"),
        "location_id": LOCATION_ID,
        "evse_uid": FREE_EVSE_UID,
    }
    return Request("POST", f"/ocpi/{version}/commands/RESERVE_NOW", body)


def _reserve_reusing_reservation_id_of(version: str, actor: Party, target: Party) -> Request:
    body = {
        "response_url": RESPONSE_URL,
        "token": token_body(version, actor, actor.token_uid),
        "expiry_date": EXPIRY,
        "reservation_id": reservation_id(version, target.reservation_id),
        "location_id": LOCATION_ID,
        "evse_uid": FREE_EVSE_UID,
    }
    return Request("POST", f"/ocpi/{version}/commands/RESERVE_NOW", body)


def _cancel_reservation_of(version: str, actor: Party, target: Party) -> Request:
    body = {"response_url": RESPONSE_URL, "reservation_id": target.reservation_id}
    return Request("POST", f"/ocpi/{version}/commands/CANCEL_RESERVATION", body)


def _stop_session_of(version: str, actor: Party, target: Party) -> Request:
    body = {"response_url": RESPONSE_URL, "session_id": target.session_id}
    return Request("POST", f"/ocpi/{version}/commands/STOP_SESSION", body)


def _preferences_of(version: str, actor: Party, target: Party) -> Request:
    body = {"profile_type": "REGULAR", "energy_need": 20}
    path = f"/ocpi/{version}/sessions/{target.session_id}/charging_preferences"
    return Request("PUT", path, body)


def _profile_get(version: str, actor: Party, target: Party) -> Request:
    path = f"/ocpi/{version}/chargingprofiles/{target.session_id}"
    return Request("GET", path, query={"duration": "900", "response_url": RESPONSE_URL})


def _profile_put(version: str, actor: Party, target: Party) -> Request:
    path = f"/ocpi/{version}/chargingprofiles/{target.session_id}"
    return Request("PUT", path, {"charging_profile": PROFILE, "response_url": RESPONSE_URL})


def _profile_delete(version: str, actor: Party, target: Party) -> Request:
    path = f"/ocpi/{version}/chargingprofiles/{target.session_id}"
    return Request("DELETE", path, query={"response_url": RESPONSE_URL})


def _always(expect: Expect) -> Callable[[str], Expect]:
    return lambda version: expect


def _command_token_refused(version: str) -> Expect:
    # 2.1.1 tokens carry no party: the uid is taken as a token of the caller's own.
    return result("ACCEPTED") if version == V211 else INVALID


OPERATIONS: tuple[Operation, ...] = (
    Operation("token", "url", "GET", ALL_VERSIONS, _token_get, _always(NOT_FOUND), _always(OK)),
    Operation(
        "token",
        "url",
        "GET a uid every party uses",
        ALL_VERSIONS,
        _token_get_shared_uid,
        _always(NOT_FOUND),
        _always(OK),
    ),
    Operation("token", "url", "PUT", ALL_VERSIONS, _token_put, _always(NOT_FOUND), _always(OK)),
    Operation("token", "url", "PATCH", ALL_VERSIONS, _token_patch, _always(NOT_FOUND), _always(OK)),
    Operation(
        "token",
        "body",
        "PUT naming its party",
        ROUTED_VERSIONS,
        _token_put_naming_target,
        _always(INVALID),
        _always(OK),
    ),
    Operation(
        "token",
        "body",
        "PATCH naming its party",
        ROUTED_VERSIONS,
        _token_patch_naming_target,
        _always(INVALID),
        _always(OK),
    ),
    Operation(
        "token",
        "body",
        "START_SESSION with its token",
        ALL_VERSIONS,
        _start_with_token_of,
        _command_token_refused,
        _always(result("ACCEPTED")),
    ),
    Operation(
        "session",
        "body",
        "STOP_SESSION",
        ALL_VERSIONS,
        _stop_session_of,
        _always(result("UNKNOWN_SESSION")),
        _always(result("ACCEPTED")),
    ),
    Operation(
        "session",
        "url",
        "PUT charging_preferences",
        ROUTED_VERSIONS,
        _preferences_of,
        _always(NOT_FOUND),
        _always(result("ACCEPTED")),
    ),
    Operation(
        "reservation",
        "body",
        "RESERVE_NOW with its token",
        ALL_VERSIONS,
        _reserve_with_token_of,
        _command_token_refused,
        _always(result("ACCEPTED")),
    ),
    Operation(
        "reservation",
        "body",
        "RESERVE_NOW reusing its reservation_id",
        ALL_VERSIONS,
        _reserve_reusing_reservation_id_of,
        _always(result("ACCEPTED")),
        _always(result("ACCEPTED")),
        charger_accepts=True,
    ),
    Operation(
        "reservation",
        "body",
        "CANCEL_RESERVATION",
        ROUTED_VERSIONS,
        _cancel_reservation_of,
        _always(result("REJECTED")),
        _always(result("ACCEPTED")),
    ),
    *(
        Operation(
            "chargingprofile",
            "url",
            method,
            ROUTED_VERSIONS,
            builder,
            _always(result("UNKNOWN_SESSION")),
            _always(result("ACCEPTED")),
        )
        for method, builder in (
            ("GET", _profile_get),
            ("PUT", _profile_put),
            ("DELETE", _profile_delete),
        )
    ),
)

PULLS = (("session", "sessions", "session_id"), ("cdr", "cdrs", "cdr_id"))
ACTORS = tuple(Party(name) for name in (*DIRECT, *VIA_HUB))


def actors_of(version: str) -> tuple[Party, ...]:
    """Hubs and their routing headers came with 2.2: a 2.1.1 connection speaks for one party."""
    return tuple(actor for actor in ACTORS if version != V211 or not actor.via_hub)


def _speaks_for(actor: Party, other: Party) -> bool:
    return actor == other or (actor.via_hub and other.via_hub)


def _own_claim(actor: Party) -> str | None:
    """A hub says which of its parties speaks; a direct connection needs not."""
    return actor.name if actor.via_hub else None


def _operation_cases() -> Iterator[Case]:
    for operation in OPERATIONS:
        for version in operation.versions:
            for actor in actors_of(version):
                yield Case(
                    operation.kind,
                    "own",
                    operation.name,
                    version,
                    actor.name,
                    None,
                    operation.own(version),
                    operation.build(version, actor, actor),
                    _own_claim(actor),
                    operation.charger_accepts,
                )
                for victim in ACTORS:
                    if victim == actor:
                        continue
                    yield Case(
                        operation.kind,
                        operation.channel,
                        operation.name,
                        version,
                        actor.name,
                        victim.name,
                        operation.foreign(version),
                        operation.build(version, actor, victim),
                        _own_claim(actor),
                        operation.charger_accepts,
                    )
                    if version != V211 and not _speaks_for(actor, victim):
                        # Pretend to be the victim, acting on the victim's own object.
                        yield Case(
                            operation.kind,
                            "header",
                            operation.name,
                            version,
                            actor.name,
                            victim.name,
                            FORBIDDEN,
                            operation.build(version, victim, victim),
                            victim.name,
                        )


def _hub_without_headers_cases() -> Iterator[Case]:
    """The hub sends no OCPI-from-*: it still reaches none of the directly connected parties'
    objects by their URLs; a charging profile request must then say which party asks (2001)."""
    hub = Party("HUB")
    for operation in OPERATIONS:
        if operation.channel != "url":
            continue
        for version in ROUTED_VERSIONS:
            for victim in ACTORS:
                if victim.via_hub:
                    continue
                expect = (
                    INVALID if operation.kind == "chargingprofile" else operation.foreign(version)
                )
                yield Case(
                    operation.kind,
                    operation.channel,
                    operation.name,
                    version,
                    "HUB",
                    victim.name,
                    expect,
                    operation.build(version, hub, victim),
                    None,
                )


def _pull_cases() -> Iterator[Case]:
    for kind, module, id_attribute in PULLS:
        for version in ALL_VERSIONS:
            for actor in actors_of(version):
                own_ids = (getattr(actor, id_attribute),)
                yield Case(
                    kind,
                    "pull",
                    f"GET {module}",
                    version,
                    actor.name,
                    None,
                    Expect(200, 1000, ids=own_ids),
                    Request("GET", f"/ocpi/{version}/{module}"),
                    _own_claim(actor),
                )
                for victim in ACTORS:
                    if version != V211 and not _speaks_for(actor, victim):
                        yield Case(
                            kind,
                            "header",
                            f"GET {module}",
                            version,
                            actor.name,
                            victim.name,
                            FORBIDDEN,
                            Request("GET", f"/ocpi/{version}/{module}"),
                            victim.name,
                        )
            if version == V211:
                continue
            # The hub without from-headers pulls for both its parties, and only for them.
            hub_ids = tuple(sorted(getattr(Party(name), id_attribute) for name in VIA_HUB))
            yield Case(
                kind,
                "pull",
                f"GET {module}",
                version,
                "HUB",
                None,
                Expect(200, 1000, ids=hub_ids),
                Request("GET", f"/ocpi/{version}/{module}"),
                None,
            )


CASES: tuple[Case, ...] = (*_operation_cases(), *_hub_without_headers_cases(), *_pull_cases())
