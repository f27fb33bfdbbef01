"""Transport rules that hold for every request under /ocpi/, including ones no view ever sees.

Echoes (or makes up) X-Request-ID and X-Correlation-ID, refuses oversized bodies with 413,
tolerates a missing or extra trailing slash, and turns any answer that is not already an OCPI
envelope (Django's 404 for an unknown URL, a 500 page) into one, so no traceback ever leaks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, get_urlconf, resolve
from django.utils.module_loading import import_string

from roaming.transport.connections import one_request
from roaming.transport.envelope import JSON_CONTENT_TYPE, envelope_http_response
from roaming.transport.ids import RequestIds, bound_ids
from roaming.transport.links import is_ocpi_path
from roaming.transport.status import OcpiStatus

logger = logging.getLogger(__name__)


class OcpiMiddleware:
    """First in MIDDLEWARE. Requests under /ocpi/ leave the rest of it for a chain of their own
    (OCPI_MIDDLEWARE): sessions, CSRF, messages, staff authentication, the audit trail's actor
    and the login lockout serve the admin, and cost a partner's request about a tenth of its
    time."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.get_ocpi_response = _middleware_chain(settings.OCPI_MIDDLEWARE, self.process_exception)

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
        return self.get_ocpi_response(request)

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


def _middleware_chain(
    paths: Sequence[str], exception_handler: Callable[[HttpRequest, Exception], Any]
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Django's request handling (URL resolution, view, exception middleware) under the given
    synchronous middleware, built as Django's handler builds the chain of MIDDLEWARE."""
    handler: Any = BaseHandler()  # its private lists, as load_middleware fills them
    handler._view_middleware = []
    handler._template_response_middleware = []
    handler._exception_middleware = [exception_handler]
    chain: Any = convert_exception_to_response(handler._get_response)
    for path in reversed(paths):
        middleware = import_string(path)(chain)
        if hasattr(middleware, "process_view"):
            handler._view_middleware.insert(0, middleware.process_view)
        if hasattr(middleware, "process_template_response"):
            handler._template_response_middleware.append(middleware.process_template_response)
        if hasattr(middleware, "process_exception"):
            handler._exception_middleware.append(middleware.process_exception)
        chain = convert_exception_to_response(middleware)
    return chain


def _tolerate_trailing_slash(request: HttpRequest) -> None:
    """Partners append to advertised URLs with and without '/': route both without a redirect."""
    path = request.path_info
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    if _resolves(urlconf, path):
        return
    other = path[:-1] if path.endswith("/") else path + "/"
    if _resolves(urlconf, other):
        request.path_info = other


@lru_cache(maxsize=4096)
def _resolves(urlconf: str, path: str) -> bool:
    # Remembered: every request asks before Django resolves the path itself.
    try:
        resolve(path, urlconf)
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
