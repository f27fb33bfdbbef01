"""Rendered JSON of each location per OCPI version, reused until the location changes.

The store is roaming.transport.rendered. A location's text is stamped with

* its ``last_updated``: every change of a location, one of its EVSEs or one of their connectors
  bumps it (the models' ``save`` and the connector cascade do);
* its owner's country code and party id, which are read from the owner, not the location.

So the store holds one text per location and version however often statuses change, and the
warming task (roaming.modules.locations.warming) renders changed locations ahead of the pulls.
"""

from __future__ import annotations

from roaming.modules import common
from roaming.modules.locations import serializers
from roaming.transport.rendered import RenderedTexts

# Bump when the JSON of a location changes for a reason the hashed sources do not show.
RENDERING_VERSION = 3
LOCATION_TEXTS = RenderedTexts(
    "location",
    rendering_version=RENDERING_VERSION,
    sources=(serializers.__file__, common.__file__),
)
