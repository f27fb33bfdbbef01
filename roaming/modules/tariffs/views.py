"""Tariffs sender: the tariffs in force, with their elements and price components."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from roaming.modules.tariffs.serializers import tariff_to_ocpi, tariffs_for_ocpi
from roaming.transport.pagination import paginate
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, tariffs_visible


class TariffListView(OcpiView):
    """GET: our tariffs, paginated on last_updated.

    A tariff that the version cannot express at all (2.1.1 without any element it can say) is
    left out of its page, so a page may hold fewer tariffs than X-Total-Count suggests.
    """

    def get(self, request: Request, **kwargs: Any) -> Response:
        audience = Audience.of(self.partner, self.routing)
        page = paginate(request, tariffs_for_ocpi(tariffs_visible(audience)))
        version = self.ocpi_version
        shown = (tariff_to_ocpi(tariff, version) for tariff in page.items)
        return page.response([tariff for tariff in shown if tariff is not None])
