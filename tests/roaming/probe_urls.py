"""A URLconf for transport tests: the real OCPI routes plus probe views of a functional module."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET
from rest_framework.request import Request
from rest_framework.response import Response

from roaming.models import Party
from roaming.transport.envelope import ocpi_response
from roaming.transport.pagination import SetState, paginate
from roaming.transport.views import OcpiView


class ProbeView(OcpiView):
    """Answers with the routing it resolved; echoes POSTed bodies."""

    def get(self, request: Request, **kwargs: Any) -> Response:
        routing = self.routing
        assert routing is not None
        return ocpi_response(
            {
                "from": routing.from_party.code if routing.from_party else None,
                "to": routing.to_party.code if routing.to_party else None,
            }
        )

    def post(self, request: Request, **kwargs: Any) -> Response:
        return ocpi_response(request.data)


class BoomView(OcpiView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise RuntimeError("secret internals")


class PartiesView(OcpiView):
    """A paginated list of a throwaway queryset, ordered by created_at as last_updated."""

    def get(self, request: Request, **kwargs: Any) -> Response:
        page = paginate(request, Party.objects.partners(), date_field="created_at")
        return page.response([party.code for party in page.items])


class PartyKeysView(OcpiView):
    """The same list as PartiesView, walked as named key rows (as the senders walk theirs);
    ?none=1 pages an empty set, ?named=1 names the set and its state (as the locations sender
    does), ?named=stateless the set alone (as the other senders do)."""

    def get(self, request: Request, **kwargs: Any) -> Response:
        parties = Party.objects.partners()
        if request.query_params.get("none"):
            parties = parties.filter(pk__in=[])
        keys: Any = parties.values_list("pk", "created_at", "country_code", "party_id", named=True)
        named = request.query_params.get("named")  # "stateless": a name without a state
        state = None if named == "stateless" else "one state"
        name = f"party keys {request.query_params.get('none')}"
        reuse_for = SetState(name, state) if named else None
        page = paginate(request, keys, date_field="created_at", reuse_for=reuse_for)
        return page.response([f"{row.country_code}-{row.party_id}" for row in page.items])


class ValuesView(OcpiView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return ocpi_response(
            {
                "amount": Decimal("12.3456"),
                "energy": Decimal("0.100"),
                "when": datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
            }
        )


def plain_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals")


@require_GET
def plain_get_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


V221 = {"version": "2.2.1"}

urlpatterns = [
    path("ocpi/", include("roaming.urls")),
    path("ocpi/2.2.1/probe/", ProbeView.as_view(), V221),
    path("ocpi/2.1.1/probe/", ProbeView.as_view(), {"version": "2.1.1"}),
    path("ocpi/2.2.1/boom/", BoomView.as_view(), V221),
    path("ocpi/2.2.1/parties/", PartiesView.as_view(), V221),
    path("ocpi/2.2.1/party-keys/", PartyKeysView.as_view(), V221),
    path("ocpi/2.2.1/values/", ValuesView.as_view(), V221),
    path("ocpi/plain/boom/", plain_boom),
    path("ocpi/plain/get-only/", plain_get_only),
    path("outside/boom/", plain_boom),
]
