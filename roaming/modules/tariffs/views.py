"""Tariffs sender: the tariffs in force, with their elements and price components."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from roaming.modules.tariffs.cache import rendered_tariffs, tariff_page_keys
from roaming.transport.encoding import RenderedList
from roaming.transport.pagination import SetState, paginate
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, tariffs_visible


class TariffListView(OcpiView):
    """GET: our tariffs, paginated on last_updated.

    A tariff that the version cannot express at all (2.1.1 without any element it can say) is
    left out of its page, so a page may hold fewer tariffs than X-Total-Count suggests. Each
    tariff's JSON is reused until it changes (roaming.modules.tariffs.cache); its elements and
    price components are read only for the tariffs rendered anew.
    """

    def get(self, request: Request, **kwargs: Any) -> Response:
        audience = Audience.of(self.partner, self.routing)
        visible = tariff_page_keys(tariffs_visible(audience))
        page = paginate(request, visible, reuse_for=SetState(f"tariffs:{audience.name}", None))
        return page.response(RenderedList(rendered_tariffs(page.items, self.ocpi_version)))
