"""CDRs sender: the CDRs of the requesting eMSP's drivers."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from roaming.modules.cdrs.selectors import cdr_page_keys, cdrs_of_page
from roaming.modules.cdrs.serializers import cdr_to_ocpi
from roaming.transport.pagination import paginate
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, cdrs_visible


class CdrListView(OcpiView):
    """GET: CDRs of the requesting party (a hub without from-headers: of all it relays for).

    The page's keys are read first, then its CDRs (see roaming.modules.cdrs.selectors).
    """

    def get(self, request: Request, **kwargs: Any) -> Response:
        audience = Audience.of(self.partner, self.routing)
        version = self.ocpi_version
        page = paginate(request, cdr_page_keys(cdrs_visible(audience)))
        cdrs = cdrs_of_page(page.items, version)
        return page.response([cdr_to_ocpi(cdr, version) for cdr in cdrs])
