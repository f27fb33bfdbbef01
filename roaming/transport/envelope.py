"""The OCPI response envelope (data, status_code, status_message, timestamp) and its rendering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from roaming.transport.encoding import OcpiJSONEncoder, PreRendered, dumps
from roaming.transport.status import OcpiStatus

JSON_CONTENT_TYPE = "application/json"


def envelope(
    data: Any = None, *, status_code: int = OcpiStatus.SUCCESS, message: str = "Success"
) -> dict[str, Any]:
    return {
        "data": data,
        "status_code": int(status_code),
        "status_message": message,
        "timestamp": timezone.now(),
    }


def ocpi_response(
    data: Any = None,
    *,
    status_code: int = OcpiStatus.SUCCESS,
    message: str = "Success",
    http_status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A DRF response carrying the envelope; what every OCPI view returns."""
    return Response(
        envelope(data, status_code=status_code, message=message),
        status=http_status,
        headers=dict(headers or {}),
    )


def envelope_http_response(
    *, http_status: int, status_code: int, message: str, data: Any = None
) -> HttpResponse:
    """The envelope as a plain Django response, for answers made outside DRF (middleware)."""
    body = dumps(envelope(data, status_code=status_code, message=message))
    return HttpResponse(body, status=http_status, content_type=JSON_CONTENT_TYPE)


class OcpiJSONRenderer(JSONRenderer):
    encoder_class = OcpiJSONEncoder
    media_type = JSON_CONTENT_TYPE
    charset = None  # application/json is UTF-8 by definition

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, dict) and isinstance(data.get("data"), PreRendered):
            # Pre-rendered items: render the rest of the envelope and splice the array in first.
            rest = {key: value for key, value in data.items() if key != "data"}
            tail = super().render(rest, accepted_media_type, renderer_context)
            array = data["data"].render()
            return b'{"data":' + array + (b"}" if tail == b"{}" else b"," + tail[1:])
        return super().render(data, accepted_media_type, renderer_context)


class OcpiJSONParser(JSONParser):
    """Parse every request body as JSON, whatever Content-Type the partner sent."""

    media_type = "*/*"


class OcpiContentNegotiation(BaseContentNegotiation):
    """Partners send all sorts of Accept and Content-Type headers; OCPI only speaks JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser:
        return next(iter(parsers))

    def select_renderer(
        self,
        request: Request | HttpRequest,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
