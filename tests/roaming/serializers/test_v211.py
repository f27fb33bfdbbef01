"""2.1.1 round trips of the examples in the 2.1.1 module texts (2.1.1 has no example files).

Known mistakes of those examples, each fixed here on the way in and expected on the way out:
EVSE ids with '-' separators (eMI3 uses '*'), two-letter countries inside sessions and CDRs
(alpha-3 is required), a tariff price given as a string, a tariff PUT without last_updated. A
location gets a time_zone (optional in 2.1.1, required by us) and an empty status_schedule is not
sent back (we leave out empty lists).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from billing.models import CDR, Tariff
from locations.models import Location
from roaming.choices import OcpiVersion
from roaming.modules.cdrs.serializers import cdr_from_ocpi, cdr_to_ocpi, cdrs_for_ocpi
from roaming.modules.locations.serializers import (
    location_from_ocpi,
    location_to_ocpi,
    locations_for_ocpi,
)
from roaming.modules.sessions.serializers import (
    session_from_ocpi,
    session_to_ocpi,
    sessions_for_ocpi,
)
from roaming.modules.tariffs.serializers import (
    tariff_from_ocpi,
    tariff_to_ocpi,
    tariffs_for_ocpi,
)
from roaming.modules.tokens.serializers import token_from_ocpi, token_to_ocpi
from sessions_app.models import Session, Token
from tests.roaming.serializers.examples import SPEC_DIR, party
from tests.roaming.serializers.semantic import differences
from tests.roaming.serializers.test_examples import as_json

V211 = OcpiVersion.V2_1_1
TIME_ZONE = "Europe/Brussels"
_BLOCK = re.compile(r"```json\s*\n(.*?)```", re.S)


def md_objects(module: str, *keys: str) -> list[dict[str, Any]]:
    """The JSON objects of a 2.1.1 module text that have all the given keys."""
    text = (SPEC_DIR / "2.1.1" / f"mod_{module}.md").read_text(encoding="utf-8")
    found = []
    for block in _BLOCK.findall(text):
        start = block.find("{")
        try:
            obj = json.loads(block[start:]) if start >= 0 else None
        except json.JSONDecodeError:
            continue  # a fragment such as '"energy_mix": {...}'
        if isinstance(obj, dict) and set(keys) <= obj.keys():
            found.append(obj)
    return found


def fixed_location(location: dict[str, Any]) -> dict[str, Any]:
    location = {**location, "time_zone": TIME_ZONE}
    if len(location["country"]) == 2:
        location["country"] = {"BE": "BEL"}[location["country"]]
    for evse in location["evses"]:
        evse["evse_id"] = evse["evse_id"].replace("-", "*")
        if evse.get("status_schedule") == []:
            del evse["status_schedule"]
    return location


def fixed_prices(tariff: dict[str, Any]) -> dict[str, Any]:
    for element in tariff["elements"]:
        for component in element["price_components"]:
            component["price"] = float(component["price"])
    return tariff


LOCATIONS = md_objects("locations", "id", "type", "address", "evses")
SESSIONS = md_objects("sessions", "start_datetime", "auth_id", "location")
CDRS = md_objects("cdrs", "stop_date_time", "auth_id", "location")
TARIFFS = md_objects("tariffs", "id", "currency", "elements")
TOKENS = md_objects("tokens", "uid", "type", "auth_id", "whitelist")


@pytest.fixture
def cpo(db):
    return party("BE", "BEC", ours=True)


@pytest.fixture
def token(db):
    """The 2.1.1 token that the session and CDR examples name by auth_id."""
    emsp = party("DE", "TNM", ours=False)
    return token_from_ocpi(TOKENS[-1], version=V211, owner=emsp)


def test_the_module_texts_give_every_kind_of_example():
    counts = [len(LOCATIONS), len(SESSIONS), len(CDRS), len(TARIFFS), len(TOKENS)]

    assert counts == [1, 2, 1, 6, 2]


@pytest.mark.parametrize("index", range(len(LOCATIONS)))
def test_location_211_survives_a_trip_through_the_database(cpo, index):
    example = fixed_location(LOCATIONS[index])

    stored = location_from_ocpi(example, owner=cpo, version=V211)
    written = location_to_ocpi(
        locations_for_ocpi(Location.objects.filter(pk=stored.pk)).get(), V211
    )

    assert differences(example, as_json(written)) == []


@pytest.mark.parametrize("index", range(len(TOKENS)))
def test_token_211_survives_a_trip_through_the_database(db, index):
    emsp = party("NL", "TNM", ours=False)
    example = TOKENS[index]

    stored = token_from_ocpi(example, version=V211, owner=emsp)
    written = token_to_ocpi(Token.objects.select_related("owner").get(pk=stored.pk), V211)

    assert differences(example, as_json(written)) == []


@pytest.mark.parametrize("index", range(len(TARIFFS)))
def test_tariff_211_survives_a_trip_through_the_database(cpo, index):
    example = fixed_prices({"last_updated": "2015-06-29T20:39:09Z", **TARIFFS[index]})

    stored = tariff_from_ocpi(example, owner=cpo, version=V211)
    written = tariff_to_ocpi(tariffs_for_ocpi(Tariff.objects.filter(pk=stored.pk)).get(), V211)

    assert differences(example, as_json(written)) == []


@pytest.mark.parametrize("index", range(len(SESSIONS)))
def test_session_211_survives_a_trip_through_the_database(cpo, token, index):
    example = {**SESSIONS[index], "location": fixed_location(SESSIONS[index]["location"])}
    location_from_ocpi(example["location"], owner=cpo, version=V211)

    stored = session_from_ocpi(example, owner=cpo, version=V211)
    written = session_to_ocpi(sessions_for_ocpi(Session.objects.filter(pk=stored.pk)).get(), V211)

    assert differences(example, as_json(written)) == []


@pytest.mark.parametrize("index", range(len(SESSIONS)))
def test_session_211_takes_its_emsp_from_the_token_named_by_auth_id(cpo, token, index):
    example = {**SESSIONS[index], "location": fixed_location(SESSIONS[index]["location"])}
    location_from_ocpi(example["location"], owner=cpo, version=V211)

    stored = session_from_ocpi(example, owner=cpo, version=V211)

    assert (stored.emsp, stored.token, stored.cdr_token["uid"]) == (token.owner, token, token.uid)


def test_cdr_211_survives_a_trip_through_the_database(cpo, token):
    example = CDRS[0]
    example = {
        **example,
        "location": fixed_location(example["location"]),
        "tariffs": [fixed_prices(t) for t in example["tariffs"]],
    }
    location_from_ocpi(example["location"], owner=cpo, version=V211)

    stored = cdr_from_ocpi(example, owner=cpo, version=V211)
    written = cdr_to_ocpi(cdrs_for_ocpi(CDR.objects.filter(pk=stored.pk)).get(), V211)

    assert differences(example, as_json(written)) == []


def test_cdr_211_without_our_location_is_sent_from_its_copy(cpo, token):
    example = {**CDRS[0], "location": fixed_location(CDRS[0]["location"])}
    stored = cdr_from_ocpi(example, owner=cpo, version=V211)

    written = cdr_to_ocpi(cdrs_for_ocpi(CDR.objects.filter(pk=stored.pk)).get(), V211)

    assert written["location"]["evses"][0] == {
        "uid": "3256",
        "evse_id": "BE*BEC*E041503003",
        "status": "UNKNOWN",
        "connectors": [
            {
                "id": "1",
                "standard": "IEC_62196_T2",
                "format": "SOCKET",
                "power_type": "AC_1_PHASE",
                "voltage": 0,
                "amperage": 0,
                "last_updated": "2015-06-29T22:01:13Z",
            }
        ],
        "last_updated": "2015-06-29T22:01:13Z",
    }
