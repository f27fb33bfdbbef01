"""Commands receiver: eMSPs ask our chargers to start, stop, reserve, cancel and unlock.

Answers, and why:

* The body is validated per command and version: 2001 naming the field when it is missing or
  wrong. A command the version does not have (2.1.1: CANCEL_RESERVATION) is NOT_SUPPORTED; a path
  that is no command at all is HTTP 404.
* A location we do not have, or that the eMSP may not see: 2003 (unknown location), with a
  REJECTED CommandResponse as data. An EVSE or connector unknown at a known location, or one
  that cannot carry out the command: REJECTED.
* STOP_SESSION of a session we do not have, or of a session of another eMSP: UNKNOWN_SESSION.
  OCPI would allow REJECTED for the latter, but that would tell an eMSP which session ids exist
  for others; to the eMSP, another's session is one it cannot know.
* Otherwise ACCEPTED with the timeout: the charger's result follows to the response_url, or
  TIMEOUT when it does not answer in time.
* The token of START_SESSION and RESERVE_NOW is the eMSP's to vouch for: it is not checked, only
  stored when we do not have it yet. It must be a token of the party the command comes from.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.db.models.functions import Lower
from rest_framework.request import Request
from rest_framework.response import Response

from locations.models import EVSE, Connector, Location
from roaming.models import Party
from roaming.modules.commands.serializers import (
    COMMANDS,
    REQUEST_SERIALIZERS,
    CommandResponseSerializer,
    receipt_to_ocpi,
)
from roaming.modules.common import V2_1_1, Json, storable_json, validate
from roaming.modules.locations.selectors import connector_find, evse_find, location_find
from roaming.openapi import Card, OcpiDescription, Operation
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import (
    InvalidParametersError,
    NotFoundError,
    UnknownLocationError,
    validation_message,
)
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, locations_visible
from sessions_app.choices import CommandResponseType, CommandType, TokenType
from sessions_app.commands import (
    CommandOrigin,
    CommandReceipt,
    command_cancel_reservation,
    command_reserve_now,
    command_start_session,
    command_stop_session,
    command_timeout_seconds,
    command_unlock_connector,
)
from sessions_app.models import Session, Token
from sessions_app.services import TokenValues, token_find, token_upsert

_TOKEN_FIELDS = (
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "valid",
    "whitelist",
    "language",
    "default_profile_type",
    "last_updated",
)


def _request_objects(version: str | None, path: str) -> Any:
    command = path.rstrip("/").rsplit("/", 1)[-1]
    return REQUEST_SERIALIZERS.get(command, {}).get(version or "")


class CommandView(OcpiView):
    """One command of an eMSP for one of our chargers; the charger's result follows later."""

    openapi = OcpiDescription(
        objects=dict.fromkeys(("2.1.1", "2.2.1", "2.3.0"), CommandResponseSerializer),
        operations={
            "POST": Operation(
                request=Card.OBJECT, response=Card.OBJECT, request_objects=_request_objects
            )
        },
    )

    def post(self, request: Request, *, command: str, **kwargs: Any) -> Response:
        version = self.ocpi_version
        if command not in CommandType.values or command not in REQUEST_SERIALIZERS:
            raise NotFoundError(f"No command {command}")
        if not isinstance(request.data, dict):
            raise InvalidParametersError("The request body must be a JSON object")
        if command not in COMMANDS[version]:
            receipt = CommandReceipt(
                CommandResponseType.NOT_SUPPORTED,
                command_timeout_seconds(),
                f"OCPI {version} has no {command}",
            )
            return ocpi_response(receipt_to_ocpi(receipt, version))
        body = validate(REQUEST_SERIALIZERS[command][version], request.data)
        origin = CommandOrigin(
            partner=self.partner,
            emsp=self._emsp(body),
            version=version,
            response_url=body["response_url"],
            request=storable_json(request.data),
        )
        handler = getattr(self, f"_{command.lower()}")
        answer: CommandReceipt = handler(origin, body)
        return ocpi_response(receipt_to_ocpi(answer, version))

    # --- one per command ---

    def _start_session(self, origin: CommandOrigin, body: Json) -> CommandReceipt:
        location = self._location(body["location_id"])
        evse = self._evse(location, body.get("evse_uid"))
        if isinstance(evse, CommandReceipt):
            return evse
        connector: Connector | None = None
        if body.get("connector_id"):
            if evse is None:
                return _rejected("connector_id given without evse_uid")
            connector = connector_find(evse, body["connector_id"])
            if connector is None:
                return _rejected(f"No connector {body['connector_id']} at EVSE {evse.uid}")
        return command_start_session(
            origin=origin,
            token=self._token(origin, body["token"]),
            location=location,
            evse=evse,
            connector=connector,
            authorization_reference=body.get("authorization_reference") or "",
        )

    def _stop_session(self, origin: CommandOrigin, body: Json) -> CommandReceipt:
        session = self._session(body["session_id"], emsp=origin.emsp)
        return command_stop_session(origin=origin, session=session)

    def _reserve_now(self, origin: CommandOrigin, body: Json) -> CommandReceipt:
        location = self._location(body["location_id"])
        evse = self._evse(location, body.get("evse_uid"))
        if isinstance(evse, CommandReceipt):
            return evse
        return command_reserve_now(
            origin=origin,
            token=self._token(origin, body["token"]),
            reservation_id=str(body["reservation_id"]),
            expiry_date=body["expiry_date"],
            location=location,
            evse=evse,
            authorization_reference=body.get("authorization_reference") or "",
        )

    def _cancel_reservation(self, origin: CommandOrigin, body: Json) -> CommandReceipt:
        return command_cancel_reservation(origin=origin, reservation_id=body["reservation_id"])

    def _unlock_connector(self, origin: CommandOrigin, body: Json) -> CommandReceipt:
        location = self._location(body["location_id"])
        evse = self._evse(location, body["evse_uid"])
        if isinstance(evse, CommandReceipt):
            return evse
        assert evse is not None  # evse_uid is required here
        connector = connector_find(evse, body["connector_id"])
        if connector is None:
            return _rejected(f"No connector {body['connector_id']} at EVSE {evse.uid}")
        return command_unlock_connector(
            origin=origin, location=location, evse=evse, connector=connector
        )

    # --- lookups ---

    def _audience(self) -> Audience:
        return Audience.of(self.partner, self.routing)

    def _emsp(self, body: Json) -> Party:
        """The eMSP the command is from: the routing header's party, else the token's, else the
        connection's only party."""
        if self.routing is not None and self.routing.from_party is not None:
            return self.routing.from_party
        token = body.get("token") or {}
        parties = self.partner.parties.all()
        if token.get("country_code") and token.get("party_id"):
            party = parties.filter(
                country_code=token["country_code"].upper(), party_id=token["party_id"].upper()
            ).first()
            if party is not None:
                return party
        only = list(parties[:2])
        if len(only) != 1:
            raise InvalidParametersError(
                "OCPI-from-country-code/OCPI-from-party-id: say which party sends this command"
            )
        return only[0]

    def _location(self, location_id: str) -> Location:
        # Without its EVSEs: most commands name one EVSE, or none, and read it on their own.
        location = location_find(locations_visible(self._audience()), location_id, with_evses=False)
        if location is None:
            receipt = _rejected(f"Unknown location {location_id}")
            raise UnknownLocationError(
                f"Unknown location {location_id}",
                data=receipt_to_ocpi(receipt, self.ocpi_version),
            )
        return location

    @staticmethod
    def _evse(location: Location, evse_uid: str | None) -> EVSE | CommandReceipt | None:
        if not evse_uid:
            return None
        evse = evse_find(location, evse_uid)
        if evse is None:
            return _rejected(f"No EVSE {evse_uid} at location {location.ocpi_id}")
        return evse

    def _session(self, session_id: str, *, emsp: Party) -> Session | None:
        """Our session with this id of the eMSP's drivers; another eMSP's is not found."""
        ours: QuerySet[Session] = Session.objects.filter(owner__is_ours=True, emsp=emsp)
        if self.routing is not None and self.routing.to_party is not None:
            ours = ours.filter(owner=self.routing.to_party)
        return (
            ours.select_related("evse", "location")
            .alias(lower_id=Lower("ocpi_id"))
            .filter(lower_id=session_id.lower())
            .first()
        )

    def _token(self, origin: CommandOrigin, data: Json) -> Token:
        """The command's token, as we have it, or stored now from what the eMSP sent."""
        owner = origin.emsp
        if self.ocpi_version != V2_1_1 and (
            data["country_code"].upper() != owner.country_code
            or data["party_id"].upper() != owner.party_id
        ):
            raise InvalidParametersError(
                f"token: a token of {data['country_code']}-{data['party_id']} in a command of "
                f"{owner.code}"
            )
        token_type = data.get("type") or TokenType.RFID
        found = token_find(owner=owner, uid=data["uid"], token_type=token_type)
        if found is not None:
            return found
        values: dict[str, Any] = {k: data[k] for k in _TOKEN_FIELDS if data.get(k) is not None}
        try:
            return token_upsert(
                sender=owner,
                owner=owner,
                uid=data["uid"],
                token_type=token_type,
                values=TokenValues(**values),  # type: ignore[typeddict-item]
            ).token
        except DjangoValidationError as error:  # a token our model refuses (uid "\x1b"): 2001
            raise InvalidParametersError(
                validation_message({"token": error.message_dict})
            ) from error


def _rejected(message: str) -> CommandReceipt:
    return CommandReceipt(CommandResponseType.REJECTED, command_timeout_seconds(), message)
