"""Charging profiles receiver (2.2.1+): set, read back or clear the limit of a session under way.

* PUT {session_id} with a SetChargingProfile; GET {session_id}?duration=&response_url= for the
  active profile; DELETE {session_id}?response_url= to clear it. Bad or missing parameters: 2001
  naming them.
* A session we do not have, or one of another eMSP: UNKNOWN_SESSION (another eMSP's session
  is not revealed to exist); one no longer under way: REJECTED. Otherwise ACCEPTED with the
  timeout, and the charger's result is POSTed to the response_url (REJECTED, or UNKNOWN for a
  GET, when the charger does not answer in time).
"""

from __future__ import annotations

from typing import Any

from django.db.models.functions import Lower
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from roaming.models import Party
from roaming.modules.chargingprofiles.serializers import (
    ChargingProfileResponseSerializer,
    ClearParametersSerializer,
    GetParametersSerializer,
    SetChargingProfileSerializer,
    profile_json,
    receipt_to_ocpi,
)
from roaming.modules.common import validate
from roaming.openapi import Card, OcpiDescription, Operation
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import InvalidParametersError
from roaming.transport.views import OcpiView
from sessions_app.choices import CommandType
from sessions_app.commands import CommandOrigin, charging_profile_request
from sessions_app.models import Session

_RESPONSE = dict.fromkeys(("2.2.1", "2.3.0"), ChargingProfileResponseSerializer)
_DURATION = OpenApiParameter(
    "duration",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    required=True,
    description="Length in seconds of the schedule asked for, from now.",
)
_RESPONSE_URL = OpenApiParameter(
    "response_url",
    OpenApiTypes.URI,
    OpenApiParameter.QUERY,
    required=True,
    description="Where the charger's result is POSTed.",
)


class ChargingProfileView(OcpiView):
    """The charging profile of one session under way."""

    openapi = OcpiDescription(
        objects=_RESPONSE,
        operations={
            "GET": Operation(response=Card.OBJECT, parameters=(_DURATION, _RESPONSE_URL)),
            "PUT": Operation(
                request=Card.OBJECT,
                response=Card.OBJECT,
                request_objects=dict.fromkeys(_RESPONSE, SetChargingProfileSerializer),
            ),
            "DELETE": Operation(response=Card.OBJECT, parameters=(_RESPONSE_URL,)),
        },
    )

    def get(self, request: Request, *, session_id: str, **kwargs: Any) -> Response:
        params = validate(GetParametersSerializer, request.query_params.dict())
        return self._ask(
            CommandType.GET_ACTIVE_CHARGING_PROFILE,
            session_id,
            params["response_url"],
            {"duration": params["duration"]},
            request_body=dict(params),
        )

    def put(self, request: Request, *, session_id: str, **kwargs: Any) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidParametersError("The request body must be a SetChargingProfile object")
        body = validate(SetChargingProfileSerializer, request.data)
        profile = profile_json(body["charging_profile"])
        # What was validated is kept, not the raw body: unknown fields may hold what the
        # database cannot store (a "\u0000" key made PostgreSQL refuse the row).
        return self._ask(
            CommandType.SET_CHARGING_PROFILE,
            session_id,
            body["response_url"],
            {"charging_profile": profile},
            request_body={"charging_profile": profile, "response_url": body["response_url"]},
        )

    def delete(self, request: Request, *, session_id: str, **kwargs: Any) -> Response:
        params = validate(ClearParametersSerializer, request.query_params.dict())
        return self._ask(
            CommandType.CLEAR_CHARGING_PROFILE,
            session_id,
            params["response_url"],
            {},
            request_body=dict(params),
        )

    def _ask(
        self,
        command_type: CommandType,
        session_id: str,
        response_url: str,
        payload: dict[str, Any],
        *,
        request_body: dict[str, Any],
    ) -> Response:
        emsp = self._emsp()
        origin = CommandOrigin(
            partner=self.partner,
            emsp=emsp,
            version=self.ocpi_version,
            response_url=response_url,
            request=request_body,
        )
        receipt = charging_profile_request(
            origin=origin,
            command_type=command_type,
            session=self._session(session_id, emsp=emsp),
            payload=payload,
        )
        return ocpi_response(receipt_to_ocpi(receipt))

    def _emsp(self) -> Party:
        if self.routing is not None and self.routing.from_party is not None:
            return self.routing.from_party
        only = list(self.partner.parties.all()[:2])
        if len(only) != 1:
            raise InvalidParametersError(
                "OCPI-from-country-code/OCPI-from-party-id: say which party sends this request"
            )
        return only[0]

    def _session(self, session_id: str, *, emsp: Party) -> Session | None:
        """Our session with this id of the eMSP's drivers; another eMSP's is not found."""
        ours = Session.objects.filter(owner__is_ours=True, emsp=emsp)
        if self.routing is not None and self.routing.to_party is not None:
            ours = ours.filter(owner=self.routing.to_party)
        return (
            ours.select_related("evse", "location")
            .alias(lower_id=Lower("ocpi_id"))
            .filter(lower_id=session_id.lower())
            .first()
        )
