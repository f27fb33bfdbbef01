"""The credentials endpoint: partners register (POST), update (PUT) and unregister (DELETE)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rest_framework.request import Request
from rest_framework.response import Response

from roaming.credentials.handshake import CredentialsError
from roaming.credentials.serializers import our_credentials, parse_credentials
from roaming.credentials.services import (
    RegistrationStateError,
    partner_accept_registration,
    partner_accept_unregistration,
    partner_accept_update,
)
from roaming.transport.auth import TokenScope
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import MethodNotAllowedError, OcpiError
from roaming.transport.views import OcpiView

T = TypeVar("T")


class CredentialsView(OcpiView):
    """Our credentials for the partner, and its registration with us."""

    token_scope = TokenScope.CREDENTIALS

    def get(self, request: Request, **kwargs: Any) -> Response:
        # We keep only a hash of the partner's token; the one it authenticated with is it.
        return ocpi_response(our_credentials(self.ocpi_version, self.presented_token.token))

    def post(self, request: Request, **kwargs: Any) -> Response:
        if self.partner.has_registration:
            raise MethodNotAllowedError("Already registered: PUT updates, DELETE unregisters")
        offered = parse_credentials(self.ocpi_version, request.data)
        token = _answer(
            lambda: partner_accept_registration(
                partner=self.partner, offered=offered, version=self.ocpi_version
            )
        )
        return ocpi_response(our_credentials(self.ocpi_version, token))

    def put(self, request: Request, **kwargs: Any) -> Response:
        if not self.partner.has_registration:
            raise MethodNotAllowedError("Not registered: POST registers")
        offered = parse_credentials(self.ocpi_version, request.data)
        token = _answer(
            lambda: partner_accept_update(
                partner=self.partner, offered=offered, version=self.ocpi_version
            )
        )
        return ocpi_response(our_credentials(self.ocpi_version, token))

    def delete(self, request: Request, **kwargs: Any) -> Response:
        if not self.partner.has_registration:
            raise MethodNotAllowedError("Not registered")
        _answer(lambda: partner_accept_unregistration(partner=self.partner))
        return ocpi_response()


def _answer(step: Callable[[], T]) -> T:
    """Run a service step, turning its failures into OCPI answers."""
    try:
        return step()
    except RegistrationStateError as error:
        raise MethodNotAllowedError(str(error)) from error
    except CredentialsError as error:
        answer = OcpiError(error.message)
        answer.ocpi_status = error.status
        raise answer from error
