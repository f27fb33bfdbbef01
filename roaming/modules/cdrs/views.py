"""CDRs sender: the CDRs of the requesting eMSP's drivers."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from roaming.modules.cdrs.cache import rendered_cdrs
from roaming.modules.cdrs.selectors import cdr_page_keys
from roaming.transport.encoding import RenderedList
from roaming.transport.pagination import SetState, paginate
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, cdrs_visible


class CdrListView(OcpiView):
    """GET: CDRs of the requesting party (a hub without from-headers: of all it relays for).

    The page's keys are read first, then its CDRs' rendered JSON (roaming.modules.cdrs.cache).
    """

    def get(self, request: Request, **kwargs: Any) -> Response:
        audience = Audience.of(self.partner, self.routing)
        visible = cdr_page_keys(cdrs_visible(audience))
        page = paginate(request, visible, reuse_for=SetState(f"cdrs:{audience.name}", None))
        texts = rendered_cdrs([key.pk for key in page.items], self.ocpi_version)
        return page.response(RenderedList(texts))
