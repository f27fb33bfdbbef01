"""CDRs sender: the CDRs of the requesting eMSP's drivers."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import CDR
from roaming.choices import OcpiVersion
from roaming.modules.cdrs.serializers import cdr_to_ocpi, cdrs_for_ocpi
from roaming.transport.pagination import paginate
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, cdrs_visible


def _for_version(queryset: QuerySet[CDR], version: OcpiVersion) -> QuerySet[CDR]:
    # Only 2.1.1 embeds our live location; later versions read the CDR's own copy.
    if version == OcpiVersion.V2_1_1:
        return cdrs_for_ocpi(queryset)
    return queryset.select_related("owner")


class CdrListView(OcpiView):
    """GET: CDRs of the requesting party (a hub without from-headers: of all it relays for)."""

    def get(self, request: Request, **kwargs: Any) -> Response:
        audience = Audience.of(self.partner, self.routing)
        version = self.ocpi_version
        page = paginate(request, _for_version(cdrs_visible(audience), version))
        return page.response([cdr_to_ocpi(cdr, version) for cdr in page.items])
