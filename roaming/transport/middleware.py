"""Transport rules that hold for every request under /ocpi/, including ones no view ever sees.

Echoes (or makes up) X-Request-ID and X-Correlation-ID, refuses oversized bodies with 413,
tolerates a missing or extra trailing slash, and turns any answer that is not already an OCPI
envelope (Django's 404 for an unknown URL, a 500 page) into one, so no traceback ever leaks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve

from roaming.transport.connections import one_request
from roaming.transport.envelope import JSON_CONTENT_TYPE, envelope_http_response
from roaming.transport.ids import RequestIds, bound_ids
from roaming.transport.links import is_ocpi_path
from roaming.transport.status import OcpiStatus

logger = logging.getLogger(__name__)


class OcpiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_ocpi_path(request.path_info):
            return self.get_response(request)
        ids = RequestIds.from_headers(request.headers)
        with bound_ids(ids), one_request():
            response = self._too_large(request) or self._dispatch(request)
        response = _as_envelope(response)
        for header, value in ids.as_headers().items():
            response[header] = value
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Last resort for non-DRF views under /ocpi/ (DRF views answer through the handler)."""
        if not is_ocpi_path(request.path_info):
            return None
        logger.error("Unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR)

    def _dispatch(self, request: HttpRequest) -> HttpResponseBase:
        _tolerate_trailing_slash(request)
        return self.get_response(request)

    @staticmethod
    def _too_large(request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
        limit: int = settings.OCPI_MAX_BODY_BYTES
        if length > limit:
            return _error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"Request body exceeds {limit} bytes"
            )
        return None


def _tolerate_trailing_slash(request: HttpRequest) -> None:
    """Partners append to advertised URLs with and without '/': route both without a redirect."""
    path = request.path_info
    if _resolves(path):
        return
    other = path[:-1] if path.endswith("/") else path + "/"
    if _resolves(other):
        request.path_info = other


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _as_envelope(response: HttpResponseBase) -> HttpResponseBase:
    """Keep our own answers; wrap error pages made elsewhere (resolver 404, handler 500...)."""
    if response.status_code < 400 or _is_json(response):
        return response
    return _error(response.status_code)


def _is_json(response: HttpResponseBase) -> bool:
    return str(response.get("Content-Type", "")).startswith(JSON_CONTENT_TYPE)


_MESSAGES: dict[int, str] = {
    HTTPStatus.NOT_FOUND: "No OCPI endpoint at this URL",
    HTTPStatus.INTERNAL_SERVER_ERROR: "Internal server error",
}


def _error(status: int, message: str | None = None) -> HttpResponse:
    code = OcpiStatus.SERVER_ERROR if status >= 500 else OcpiStatus.CLIENT_ERROR
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return envelope_http_response(
        http_status=status, status_code=code, message=message or _MESSAGES.get(status, phrase)
    )
