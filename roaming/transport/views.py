"""The base of every OCPI endpoint: token authentication, JSON envelope, routing headers."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from roaming.choices import OcpiVersion
from roaming.models import Partner
from roaming.transport.auth import (
    OcpiTokenAuthentication,
    PresentedToken,
    TokenScope,
    TokenScopePermission,
)
from roaming.transport.envelope import OcpiContentNegotiation, OcpiJSONParser, OcpiJSONRenderer
from roaming.transport.errors import NotAuthenticatedError
from roaming.transport.routing import Routing, routing_resolve
from roaming.transport.throttle import RateLimitedAPIView


class OcpiView(RateLimitedAPIView):
    """Subclass per module; URL routes pass the OCPI version as the `version` keyword.

    Set `token_scope` to VERSIONS or CREDENTIALS for configuration modules; functional modules
    (the default) need a registered connection and are routed (see roaming.transport.routing).
    """

    authentication_classes = [OcpiTokenAuthentication]
    permission_classes = [TokenScopePermission]
    parser_classes = [OcpiJSONParser]
    renderer_classes = [OcpiJSONRenderer]
    content_negotiation_class = OcpiContentNegotiation
    metadata_class = None  # OPTIONS is not part of OCPI: answer 405 in the envelope
    token_scope: ClassVar[TokenScope] = TokenScope.FUNCTIONAL

    routing: Routing | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.token_scope is TokenScope.FUNCTIONAL:
            self.routing = routing_resolve(request.headers, self.partner)

    @property
    def partner(self) -> Partner:
        """The authenticated connection."""
        partner: Any = self.request.user
        if not isinstance(partner, Partner):
            raise NotAuthenticatedError()
        return partner

    @property
    def presented_token(self) -> PresentedToken:
        presented: Any = self.request.auth
        if not isinstance(presented, PresentedToken):
            raise NotAuthenticatedError()
        return presented

    @property
    def ocpi_version(self) -> OcpiVersion:
        return OcpiVersion(self.kwargs["version"])

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # 2.1.1 has no routing headers.
        if self.routing is not None and self.kwargs.get("version") != OcpiVersion.V2_1_1:
            for header, value in self.routing.response_headers().items():
                response[header] = value
        return response
