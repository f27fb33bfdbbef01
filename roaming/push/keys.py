"""Object keys of the outbox: how a partner knows an object, written as its receiver URL suffix.

A key is ``<module>/<country_code>/<party_id>/<id>[/<evse_uid>[/<connector_id>]]`` with every id
percent-encoded, so it is both unambiguous (ids may contain "/") and the path to append to the
partner's endpoint URL. A key covers another when the other lies below it: a location's key covers
its EVSEs' and connectors' keys.
"""

from __future__ import annotations

from urllib.parse import quote

from billing.models import CDR, Tariff
from locations.models import EVSE, Connector, Location
from roaming.choices import ModuleID
from sessions_app.models import Session


def _segment(value: str) -> str:
    return quote(value, safe="")


def _owned(module: ModuleID, country_code: str, party_id: str, *ids: str) -> str:
    return "/".join([module.value, country_code, party_id, *(_segment(i) for i in ids)])


def location_key(
    location: Location, evse: EVSE | None = None, connector: Connector | None = None
) -> str:
    ids = [location.ocpi_id]
    if evse is not None:
        ids.append(evse.uid)
        if connector is not None:
            ids.append(connector.ocpi_id)
    return _owned(ModuleID.LOCATIONS, location.country_code, location.party_id, *ids)


def tariff_key(tariff: Tariff) -> str:
    return _owned(ModuleID.TARIFFS, tariff.country_code, tariff.party_id, tariff.ocpi_id)


def session_key(session: Session) -> str:
    return _owned(ModuleID.SESSIONS, session.country_code, session.party_id, session.ocpi_id)


def cdr_key(cdr: CDR) -> str:
    return _owned(ModuleID.CDRS, cdr.country_code, cdr.party_id, cdr.ocpi_id)


def url_suffix(key: str) -> str:
    """The part of the receiver URL after the module's endpoint: /country/party/id[/...]."""
    return "/" + key.split("/", 1)[1]


def covers(ancestor: str, key: str) -> bool:
    """Whether ``key`` names an object inside ``ancestor`` (an EVSE of a location, ...)."""
    return key.startswith(ancestor + "/")


def ancestors(key: str) -> list[str]:
    """Keys of the objects that contain this one, nearest last (none for a whole object)."""
    parts = key.split("/")
    # module/country/party/id is the smallest whole object.
    return ["/".join(parts[:end]) for end in range(4, len(parts))]
