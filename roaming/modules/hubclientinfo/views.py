"""HubClientInfo receiver: a hub PUTs the ClientInfo of each party it connects us with.

Only a hub connection may call it (HTTP 403 otherwise). The body must name the party of the URL
(2001 otherwise); PUT answers HTTP 201 for a party new to this hub, 200 for an update. GET of a
party the hub never told us about: HTTP 404. Like versions and credentials this is a
configuration module: routing headers are not used (a hub may not even relay for the party yet).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from roaming.choices import ConnectionStatus, Role
from roaming.modules.common import validate
from roaming.modules.hubclientinfo.serializers import CLIENT_INFO_SERIALIZERS, client_info_to_ocpi
from roaming.modules.hubclientinfo.services import (
    NotAHubError,
    client_info_find,
    client_info_store,
    partner_is_hub,
)
from roaming.openapi import Card, OcpiDescription, Operation
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import ForbiddenError, InvalidParametersError, NotFoundError
from roaming.transport.views import OcpiView


class ClientInfoView(OcpiView):
    """The ClientInfo of one party behind a hub: PUT by the hub, GET back what we hold."""

    openapi = OcpiDescription(
        objects=CLIENT_INFO_SERIALIZERS,
        operations={
            "GET": Operation(response=Card.OBJECT),
            "PUT": Operation(request=Card.OBJECT, created=True),
        },
    )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Authentication and permissions as for every functional module (a registered
        # connection), but no routing: OcpiView.initial would resolve routing headers.
        APIView.initial(self, request, *args, **kwargs)
        if not partner_is_hub(self.partner):
            raise ForbiddenError("Only a hub connection may use hubclientinfo")

    def get(self, request: Request, *, country_code: str, party_id: str, **kwargs: Any) -> Response:
        info = client_info_find(hub=self.partner, country_code=country_code, party_id=party_id)
        if info is None:
            raise NotFoundError(f"No ClientInfo of {country_code}-{party_id} from this hub")
        return ocpi_response(client_info_to_ocpi(info, self.ocpi_version))

    def put(self, request: Request, *, country_code: str, party_id: str, **kwargs: Any) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidParametersError("The request body must be a JSON object (a ClientInfo)")
        validated = validate(CLIENT_INFO_SERIALIZERS[self.ocpi_version], request.data)
        problems = [
            f"{key}: {validated[key]!r} differs from {expected!r} in the URL."
            for key, expected in (("country_code", country_code), ("party_id", party_id))
            if validated[key].upper() != expected.upper()
        ]
        if problems:
            raise InvalidParametersError("; ".join(problems))
        try:
            stored = client_info_store(
                hub=self.partner,
                country_code=validated["country_code"],
                party_id=validated["party_id"],
                role=Role(validated["role"]),
                status=ConnectionStatus(validated["status"]),
                last_updated=validated["last_updated"],
            )
        except NotAHubError as error:
            raise ForbiddenError(str(error)) from error
        return ocpi_response(None, http_status=201 if stored.created else 200)
