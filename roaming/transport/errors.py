"""OCPI errors and the one DRF exception handler that turns every error into the envelope."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from roaming.transport.envelope import ocpi_response
from roaming.transport.status import OcpiStatus

logger = logging.getLogger(__name__)


class OcpiError(Exception):
    """An answer other than success: an OCPI status code, an HTTP status and a message."""

    ocpi_status: int = OcpiStatus.CLIENT_ERROR
    http_status: int = 200
    default_message: ClassVar[str] = "Request not processed"

    def __init__(
        self,
        message: str | None = None,
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        http_status: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        if http_status is not None:
            self.http_status = http_status
        self.data = data
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def response(self) -> Response:
        return ocpi_response(
            self.data,
            status_code=self.ocpi_status,
            message=self.message,
            http_status=self.http_status,
            headers=self.headers,
        )


# Errors at the OCPI layer: the request was understood, so HTTP 200 with an OCPI code.
class InvalidParametersError(OcpiError):
    ocpi_status = OcpiStatus.INVALID_PARAMETERS
    default_message = "Invalid or missing parameters"


class NotEnoughInformationError(OcpiError):
    ocpi_status = OcpiStatus.NOT_ENOUGH_INFORMATION
    default_message = "Not enough information"


class UnknownLocationError(OcpiError):
    ocpi_status = OcpiStatus.UNKNOWN_LOCATION
    default_message = "Unknown location"


class UnknownTokenError(OcpiError):
    ocpi_status = OcpiStatus.UNKNOWN_TOKEN
    default_message = "Unknown token"


class ClientApiUnusableError(OcpiError):
    ocpi_status = OcpiStatus.CLIENT_API_UNUSABLE
    default_message = "Unable to use the client's API"


class UnsupportedVersionError(OcpiError):
    ocpi_status = OcpiStatus.UNSUPPORTED_VERSION
    default_message = "Unsupported version"


class NoMatchingEndpointsError(OcpiError):
    ocpi_status = OcpiStatus.NO_MATCHING_ENDPOINTS
    default_message = "No matching endpoints"


# Errors at the HTTP layer.
class BodyNotJsonError(OcpiError):
    http_status = 400
    default_message = "Request body is not valid JSON"


class NotAuthenticatedError(OcpiError):
    http_status = 401
    default_message = "Missing or unknown credentials token"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Token"})


class ForbiddenError(OcpiError):
    http_status = 403
    default_message = "Not allowed for this connection"


class NotFoundError(OcpiError):
    http_status = 404
    default_message = "Not found"


class MethodNotAllowedError(OcpiError):
    http_status = 405
    default_message = "Method not allowed"


class PayloadTooLargeError(OcpiError):
    http_status = 413
    default_message = "Request body too large"


class ServerError(OcpiError):
    ocpi_status = OcpiStatus.SERVER_ERROR
    http_status = 500
    default_message = "Internal server error"


def ocpi_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: every error, expected or not, leaves as an envelope."""
    set_rollback()
    error = as_ocpi_error(exc)
    if isinstance(error, ServerError):
        view = context.get("view")
        logger.error("Unhandled error in OCPI view %s", type(view).__name__, exc_info=exc)
    return error.response()


def as_ocpi_error(exc: Exception) -> OcpiError:
    if isinstance(exc, OcpiError):
        return exc
    if isinstance(exc, drf.ValidationError):
        return InvalidParametersError(validation_message(exc.detail))
    if isinstance(exc, drf.ParseError):
        return BodyNotJsonError(f"Request body is not valid JSON: {exc.detail}")
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return NotAuthenticatedError(str(exc.detail))
    if isinstance(exc, drf.PermissionDenied | DjangoPermissionDenied):
        return ForbiddenError()
    if isinstance(exc, drf.NotFound | Http404):
        return NotFoundError()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowedError(str(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLargeError()
    if isinstance(exc, drf.APIException):
        return _http_error(exc.status_code, str(exc.detail))
    return ServerError()


def _http_error(http_status: int, message: str) -> OcpiError:
    if http_status >= 500:
        return ServerError(message, http_status=http_status)
    return OcpiError(message, http_status=http_status)


def validation_message(detail: Any, path: str = "") -> str:
    """Flatten DRF validation details into 'field: problem' parts naming every offending field."""
    if isinstance(detail, dict):
        return "; ".join(
            validation_message(value, f"{path}.{key}" if path else str(key))
            for key, value in detail.items()
        )
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            problems = " ".join(str(item) for item in detail)
            return f"{path}: {problems}" if path else problems
        return "; ".join(
            validation_message(item, f"{path}[{index}]")
            for index, item in enumerate(detail)
            if item
        )
    return f"{path}: {detail}" if path else str(detail)
