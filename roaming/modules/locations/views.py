"""Locations sender: the list of locations a partner may see, and one location, EVSE or connector.

The same URL shapes serve every version (the sender interface has no country code or party id
in its paths); the version decides the serialization. REMOVED EVSEs stay in the answers, so that
partners learn that they are gone.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from locations.selectors import visibility_state
from roaming.modules.locations.cache import LOCATION_TEXTS
from roaming.modules.locations.selectors import (
    connector_find,
    evse_find,
    location_find,
    location_page_ids,
    location_set,
    location_stamp_find,
    location_stamps,
    locations_render,
)
from roaming.modules.locations.serializers import (
    connector_to_ocpi,
    evse_to_ocpi,
)
from roaming.transport.encoding import RenderedList, RenderedObject
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import NotFoundError, UnknownLocationError
from roaming.transport.pagination import paginate
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, locations_visible, locations_visible_named


class LocationListView(OcpiView):
    """GET: the locations this partner may see, paginated on last_updated."""

    def get(self, request: Request, **kwargs: Any) -> Response:
        audience = Audience.of(self.partner, self.routing)
        state = visibility_state()
        visible, visibility = locations_visible_named(audience, state)
        reuse_for = location_set(visibility, state.locations)
        page = paginate(request, location_page_ids(visible), reuse_for=reuse_for)
        version = self.ocpi_version
        texts = LOCATION_TEXTS.texts(
            location_stamps(page.items), version, partial(locations_render, version=version)
        )
        return page.response(RenderedList(texts))


class LocationObjectView(OcpiView):
    """GET: one location, one of its EVSEs, or one connector of that EVSE."""

    def get(
        self,
        request: Request,
        *,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
        **kwargs: Any,
    ) -> Response:
        version = self.ocpi_version
        audience = Audience.of(self.partner, self.routing)
        unknown = UnknownLocationError(f"Unknown location {location_id}", http_status=404)
        if evse_uid is None:
            # The location as the list shows it: its rendered JSON, when current.
            stamp = location_stamp_find(locations_visible(audience), location_id)
            render = partial(locations_render, version=version)
            texts = LOCATION_TEXTS.texts([stamp], version, render) if stamp else []
            if not texts:
                raise unknown
            return ocpi_response(RenderedObject(texts[0]))
        # Another party's unpublished location is as unknown as one that does not exist.
        location = location_find(locations_visible(audience), location_id)
        if location is None:
            raise unknown
        evse = evse_find(location, evse_uid)
        if evse is None:
            raise NotFoundError(f"Unknown EVSE {evse_uid} at location {location.ocpi_id}")
        if connector_id is None:
            evse_object = evse_to_ocpi(evse, version)
            if evse_object is None:
                raise NotFoundError(
                    f"EVSE {evse.uid} has no connector that OCPI {version} can describe"
                )
            return ocpi_response(evse_object)
        connector = connector_find(evse, connector_id)
        if connector is None:
            raise NotFoundError(f"Unknown connector {connector_id} of EVSE {evse.uid}")
        connector_object = connector_to_ocpi(connector, version)
        if connector_object is None:
            raise NotFoundError(
                f"Connector {connector.ocpi_id} has a standard OCPI {version} cannot name"
            )
        return ocpi_response(connector_object)
