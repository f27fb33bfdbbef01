"""Builders of the demo network that `manage.py seed_demo` loads into an empty database.

Everything is derived from one seeded random generator and one reference time, so two runs with the
same seed and time produce the same rows. Sites, prices and tokens are invented but shaped like
the real thing: street addresses with coordinates inside their city, eMI3 EVSE ids, eMAIDs with a
valid check digit, and CDRs priced by the billing engine rather than by hand.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from billing.cdrs import cdr_create_from_session
from billing.choices import TariffDimensionType, TaxIncluded
from billing.models import CDR, PriceComponent, Tariff, TariffElement
from billing.pricing import (
    ChargingPeriodInput,
    Money,
    PeriodKind,
    PricingResult,
    price_session,
    tariff_from_ocpi,
)
from billing.pricing.rounding import round_energy, round_hours
from locations.choices import (
    Capability,
    ConnectorCapability,
    ConnectorFormat,
    ConnectorType,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    EVSEPosition,
    Facility,
    ImageCategory,
    ParkingDirection,
    ParkingRestriction,
    ParkingType,
    PowerType,
    Status,
    VehicleType,
)
from locations.models import EVSE, Connector, Location
from roaming.choices import Role
from roaming.models import Party
from roaming.modules.tariffs.serializers import tariff_snapshot, tariffs_for_ocpi
from roaming.ownership import ensure_our_cpo
from roaming.services import parties_sync_ours
from sessions_app.choices import AuthMethod, ProfileType, SessionStatus, TokenType, WhitelistType
from sessions_app.models import Session, SessionChargingPeriod, Token

DEFAULT_SEED = 20240611
WEBSITE = "https://www.open-cpms.example"
IMAGE_HOST = "https://images.open-cpms.example"
TERMS_URL = f"{WEBSITE}/charging-terms"

# --------------------------------------------------------------------------------------------
# Countries, sites and charger models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    """What the demo needs to know about a country: codes, VAT, currency, phone prefix, language."""

    alpha2: str
    alpha3: str
    vat: Decimal
    currency: str
    help_phone: str
    language: str


COUNTRIES = {
    c.alpha3: c
    for c in (
        Country("NL", "NLD", Decimal(21), "EUR", "+31 20 808 4300", "nl"),
        Country("DE", "DEU", Decimal(19), "EUR", "+49 30 2555 8400", "de"),
        Country("BE", "BEL", Decimal(21), "EUR", "+32 2 808 4300", "nl"),
        Country("FR", "FRA", Decimal(20), "EUR", "+33 1 84 88 43 00", "fr"),
        Country("GB", "GBR", Decimal(20), "GBP", "+44 20 3808 4300", "en"),
    )
}


@dataclass(frozen=True)
class EvseSpec:
    """One EVSE of a site: its charger model and, when not AVAILABLE, its current status."""

    model: str
    status: Status = Status.AVAILABLE


@dataclass(frozen=True)
class ChargerModel:
    """A hardware model: its connectors (standard, format, power type, V, A, W) and capabilities."""

    connectors: tuple[tuple[ConnectorType, ConnectorFormat, PowerType, int, int, int], ...]
    capabilities: tuple[Capability, ...]
    plug_and_charge: bool = False

    @property
    def is_dc(self) -> bool:
        return self.connectors[0][2] == PowerType.DC


_T2, _CCS, _CHADEMO = (
    ConnectorType.IEC_62196_T2,
    ConnectorType.IEC_62196_T2_COMBO,
    ConnectorType.CHADEMO,
)
_SOCKET, _CABLE = ConnectorFormat.SOCKET, ConnectorFormat.CABLE
_AC3, _DC = PowerType.AC_3_PHASE, PowerType.DC
_AC_CAPS = (
    Capability.RFID_READER,
    Capability.REMOTE_START_STOP_CAPABLE,
    Capability.RESERVABLE,
    Capability.UNLOCK_CAPABLE,
    Capability.CHARGING_PROFILE_CAPABLE,
)
_DC_CAPS = (
    Capability.RFID_READER,
    Capability.REMOTE_START_STOP_CAPABLE,
    Capability.CONTACTLESS_CARD_SUPPORT,
    Capability.CREDIT_CARD_PAYABLE,
    Capability.CHARGING_PROFILE_CAPABLE,
)

CHARGER_MODELS = {
    # AC voltage is line to neutral for 3 phases: 3 x 230 V x 16 A = 11 kW, x 32 A = 22 kW.
    "AC11": ChargerModel(((_T2, _SOCKET, _AC3, 230, 16, 11000),), _AC_CAPS),
    "AC22": ChargerModel(((_T2, _SOCKET, _AC3, 230, 32, 22000),), _AC_CAPS),
    "DC50": ChargerModel(
        ((_CCS, _CABLE, _DC, 500, 125, 50000), (_CHADEMO, _CABLE, _DC, 500, 125, 50000)),
        _DC_CAPS,
    ),
    "DC150": ChargerModel(
        ((_CCS, _CABLE, _DC, 920, 250, 150000), (_CHADEMO, _CABLE, _DC, 500, 125, 50000)),
        (*_DC_CAPS, Capability.PED_TERMINAL),
    ),
    "HPC350": ChargerModel(
        ((_CCS, _CABLE, _DC, 920, 500, 350000),),
        (*_DC_CAPS, Capability.PED_TERMINAL),
        plug_and_charge=True,
    ),
}


@dataclass(frozen=True)
class Site:
    """A demo charging site: address, coordinates inside its city, amenities and its EVSEs."""

    name: str
    address: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-3
    latitude: str
    longitude: str
    time_zone: str
    parking_type: ParkingType
    facilities: tuple[Facility, ...]
    evses: tuple[EvseSpec, ...]
    ac_tariff: str
    dc_tariff: str = "DC-FAST"
    hours: str = "24/7"  # "24/7", "shop" or "office": see _opening_times
    state: str = ""
    # Whose CPO identity operates the site, best first; the first of our identities otherwise.
    operator_countries: tuple[str, ...] = ()
    # A site abroad that only a local identity may operate (other currency, other regulator).
    needs_local_identity: bool = False
    green: bool = False
    images: bool = False
    parkings: bool = False
    floor_level: str = ""
    directions: str = ""
    suboperator: str = ""
    site_owner: str = ""
    publish: bool = True


def _e(model: str, status: Status = Status.AVAILABLE) -> EvseSpec:
    return EvseSpec(model, status)


_F = Facility
# One site per block reads like the table it is; the formatter would give every field a line.
# fmt: off
SITES: tuple[Site, ...] = (
    # --- Netherlands ---------------------------------------------------------------------------
    Site("Amsterdam Zuid WTC", "Zuidplein 136", "1077 XV", "Amsterdam", "NLD",
         "52.338970", "4.872960", "Europe/Amsterdam", ParkingType.UNDERGROUND_GARAGE,
         (_F.TRAIN_STATION, _F.METRO_STATION, _F.CAFE, _F.WIFI),
         (_e("AC22", Status.CHARGING), _e("AC22"), _e("AC22"), _e("AC22"), _e("DC150")),
         ac_tariff="AC-STANDARD", floor_level="-1", images=True, parkings=True, green=True,
         directions="Entrance on Parnassusweg, chargers on level -1 next to the lifts."),
    Site("Museumkwartier", "Van Baerlestraat 33", "1071 AP", "Amsterdam", "NLD",
         "52.358100", "4.880600", "Europe/Amsterdam", ParkingType.UNDERGROUND_GARAGE,
         (_F.MUSEUM, _F.TRAM_STOP, _F.RESTAURANT), (_e("AC11"), _e("AC11"), _e("AC11")),
         ac_tariff="AC-CITY", hours="shop", floor_level="-2",
         suboperator="Stadsgarages Amsterdam B.V."),
    Site("Sloterdijk A10 Fast Charging", "Kingsfordweg 151", "1043 GR", "Amsterdam", "NLD",
         "52.388800", "4.837900", "Europe/Amsterdam", ParkingType.PARKING_LOT,
         (_F.CAFE, _F.WIFI, _F.TRAIN_STATION),
         (_e("HPC350"), _e("HPC350"), _e("HPC350"), _e("HPC350"), _e("DC50"), _e("AC22")),
         ac_tariff="AC-STANDARD", dc_tariff="HPC", green=True, images=True, parkings=True),
    Site("Rotterdam Centraal Kruisplein", "Kruisplein 25", "3012 CC", "Rotterdam", "NLD",
         "51.921700", "4.471300", "Europe/Amsterdam", ParkingType.UNDERGROUND_GARAGE,
         (_F.TRAIN_STATION, _F.METRO_STATION, _F.TRAM_STOP),
         (_e("AC22"), _e("AC22", Status.OUTOFORDER), _e("AC22"), _e("DC50")),
         ac_tariff="AC-CITY", floor_level="-1"),
    Site("Jaarbeurs Utrecht P1", "Jaarbeursplein 6", "3521 AL", "Utrecht", "NLD",
         "52.088300", "5.106400", "Europe/Amsterdam", ParkingType.PARKING_LOT,
         (_F.TRAIN_STATION, _F.RECREATION_AREA),
         (_e("AC11"), _e("AC11"), _e("AC11"), _e("AC11"), _e("AC22"), _e("AC22")),
         ac_tariff="AC-NIGHT", site_owner="Jaarbeurs Vastgoed B.V."),
    Site("Den Haag Centraal", "Koningin Julianaplein 10", "2595 AA", "Den Haag", "NLD",
         "52.080900", "4.324900", "Europe/Amsterdam", ParkingType.UNDERGROUND_GARAGE,
         (_F.TRAIN_STATION, _F.TRAM_STOP, _F.BUS_STOP), (_e("AC22"), _e("AC22"), _e("DC50")),
         ac_tariff="AC-CITY", floor_level="-1"),
    Site("Woensel Supermarkt", "Boschdijk 393", "5621 JA", "Eindhoven", "NLD",
         "51.456400", "5.468000", "Europe/Amsterdam", ParkingType.PARKING_LOT,
         (_F.SUPERMARKET, _F.PARKING_LOT), (_e("AC11"), _e("AC11")),
         ac_tariff="AC-STANDARD", hours="shop", site_owner="Woensel Retail Vastgoed B.V."),
    Site("Groningen Stationsweg", "Stationsweg 11", "9726 AC", "Groningen", "NLD",
         "53.210700", "6.564400", "Europe/Amsterdam", ParkingType.ON_STREET,
         (_F.TRAIN_STATION, _F.BIKE_SHARING, _F.BUS_STOP), (_e("AC11"), _e("AC11")),
         ac_tariff="AC-NIGHT", green=True),
    # --- Germany -------------------------------------------------------------------------------
    Site("Alexanderplatz Einkaufszentrum", "Grunerstraße 20", "10179", "Berlin", "DEU",
         "52.519000", "13.415300", "Europe/Berlin", ParkingType.PARKING_GARAGE,
         (_F.MALL, _F.METRO_STATION, _F.TRAM_STOP, _F.RESTAURANT),
         (_e("AC22"), _e("AC22"), _e("AC22"), _e("AC22")),
         ac_tariff="AC-CITY", hours="shop", state="Berlin", floor_level="2", images=True,
         suboperator="Parkhaus Alexanderplatz GmbH"),
    Site("Potsdamer Platz Tiefgarage", "Potsdamer Platz 1", "10785", "Berlin", "DEU",
         "52.509500", "13.376100", "Europe/Berlin", ParkingType.UNDERGROUND_GARAGE,
         (_F.METRO_STATION, _F.HOTEL, _F.RESTAURANT),
         (_e("AC22"), _e("AC22"), _e("DC150"), _e("DC150")),
         ac_tariff="AC-STANDARD", state="Berlin", floor_level="-2"),
    Site("Hamburg Hauptbahnhof Süd", "Adenauerallee 10", "20097", "Hamburg", "DEU",
         "53.552400", "10.011900", "Europe/Berlin", ParkingType.PARKING_GARAGE,
         (_F.TRAIN_STATION, _F.BUS_STOP, _F.HOTEL), (_e("AC11"), _e("AC11"), _e("DC50")),
         ac_tariff="AC-STANDARD", state="Hamburg", floor_level="1"),
    Site("München Hauptbahnhof", "Bayerstraße 10a", "80335", "München", "DEU",
         "48.139900", "11.561700", "Europe/Berlin", ParkingType.UNDERGROUND_GARAGE,
         (_F.TRAIN_STATION, _F.TRAM_STOP, _F.HOTEL),
         (_e("AC22"), _e("AC22"), _e("AC22"), _e("DC150")),
         ac_tariff="AC-NIGHT", state="Bayern", floor_level="-1", green=True),
    Site("Köln Breslauer Platz", "Breslauer Platz 2", "50668", "Köln", "DEU",
         "50.943400", "6.960100", "Europe/Berlin", ParkingType.PARKING_GARAGE,
         (_F.TRAIN_STATION, _F.METRO_STATION), (_e("AC11"), _e("AC11"), _e("AC11")),
         ac_tariff="AC-CITY", state="Nordrhein-Westfalen"),
    Site("Frankfurt Airport P36", "Hugo-Eckener-Ring 1", "60549", "Frankfurt am Main", "DEU",
         "50.051200", "8.571600", "Europe/Berlin", ParkingType.PARKING_GARAGE,
         (_F.AIRPORT, _F.HOTEL, _F.RESTAURANT, _F.WIFI),
         (_e("HPC350", Status.CHARGING), _e("HPC350"), _e("DC150"), _e("AC22"), _e("AC22")),
         ac_tariff="AC-STANDARD", dc_tariff="HPC", state="Hessen", images=True, parkings=True,
         green=True, site_owner="Flughafen Parkraum GmbH"),
    Site("Stuttgart Mitarbeiterparkhaus", "Heilbronner Straße 7", "70174", "Stuttgart", "DEU",
         "48.787400", "9.183100", "Europe/Berlin", ParkingType.PARKING_GARAGE,
         (_F.PARKING_LOT,), (_e("AC11"), _e("AC11"), _e("AC11"), _e("AC11")),
         ac_tariff="AC-STANDARD", hours="office", state="Baden-Württemberg", publish=False),
    Site("Rastanlage Garbsen Nord (A2)", "Rastanlage Garbsen Nord, A2", "30823", "Garbsen", "DEU",
         "52.427300", "9.581300", "Europe/Berlin", ParkingType.ALONG_MOTORWAY,
         (_F.FUEL_STATION, _F.RESTAURANT, _F.CAFE),
         (_e("HPC350"), _e("HPC350"), _e("DC150"), _e("HPC350", Status.PLANNED)),
         ac_tariff="AC-STANDARD", dc_tariff="HPC", state="Niedersachsen", parkings=True,
         directions="Follow the E-Laden signs behind the fuel station."),
    # --- Belgium -------------------------------------------------------------------------------
    Site("Schuman", "Rue de la Loi 155", "1040", "Bruxelles", "BEL",
         "50.842900", "4.383700", "Europe/Brussels", ParkingType.UNDERGROUND_GARAGE,
         (_F.METRO_STATION, _F.TRAIN_STATION, _F.CAFE), (_e("AC22"), _e("AC22"), _e("AC22")),
         ac_tariff="AC-CITY", hours="office", floor_level="-3", operator_countries=("BE", "NL")),
    Site("Antwerpen Centraal Kievitplein", "Kievitplein 20", "2018", "Antwerpen", "BEL",
         "51.214200", "4.420600", "Europe/Brussels", ParkingType.PARKING_GARAGE,
         (_F.TRAIN_STATION, _F.TRAM_STOP), (_e("AC22"), _e("AC22"), _e("DC50")),
         ac_tariff="AC-STANDARD", operator_countries=("BE", "NL")),
    Site("Gent Sint-Pieters", "Koningin Maria Hendrikaplein 65", "9000", "Gent", "BEL",
         "51.036000", "3.709900", "Europe/Brussels", ParkingType.PARKING_LOT,
         (_F.TRAIN_STATION, _F.BIKE_SHARING), (_e("AC11"), _e("AC11")),
         ac_tariff="AC-NIGHT", operator_countries=("BE", "NL")),
    # --- France --------------------------------------------------------------------------------
    Site("Saint-Germain-des-Prés", "169 Boulevard Saint-Germain", "75006", "Paris", "FRA",
         "48.854100", "2.332300", "Europe/Paris", ParkingType.UNDERGROUND_GARAGE,
         (_F.CAFE, _F.METRO_STATION, _F.MUSEUM), (_e("AC22"), _e("AC22")),
         ac_tariff="AC-CITY", hours="shop", floor_level="-2", operator_countries=("FR", "NL"),
         suboperator="Parkings de Paris SAS"),
    Site("Lyon Part-Dieu", "Place Charles Béraudier", "69003", "Lyon", "FRA",
         "45.760500", "4.859400", "Europe/Paris", ParkingType.PARKING_GARAGE,
         (_F.TRAIN_STATION, _F.TRAM_STOP, _F.MALL), (_e("AC22"), _e("DC150"), _e("DC50")),
         ac_tariff="AC-STANDARD", operator_countries=("FR", "NL"), images=True),
    Site("La Défense Parvis", "15 Parvis de la Défense", "92800", "Puteaux", "FRA",
         "48.892000", "2.236000", "Europe/Paris", ParkingType.UNDERGROUND_GARAGE,
         (_F.MALL, _F.METRO_STATION, _F.RESTAURANT), (_e("AC11"), _e("AC11"), _e("AC22")),
         ac_tariff="AC-CITY", hours="shop", floor_level="-1", operator_countries=("FR", "NL")),
    # --- United Kingdom: only with a GB identity of our own (GBP prices, own regulator) ---------
    Site("King's Cross Pancras Road", "Pancras Road", "N1C 4AG", "London", "GBR",
         "51.533500", "-0.127000", "Europe/London", ParkingType.UNDERGROUND_GARAGE,
         (_F.TRAIN_STATION, _F.METRO_STATION, _F.CAFE), (_e("AC22"), _e("AC22"), _e("DC150")),
         ac_tariff="AC-STANDARD", operator_countries=("GB",), needs_local_identity=True),
)
# fmt: on


# --------------------------------------------------------------------------------------------
# Value objects of locations
# --------------------------------------------------------------------------------------------


def ocpi_datetime(value: datetime) -> str:
    """OCPI DateTime text: UTC, whole seconds, 'Z'."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local_day_period(day: date, zone: ZoneInfo) -> dict[str, str]:
    begin = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return {"period_begin": ocpi_datetime(begin), "period_end": ocpi_datetime(end)}


def _next_date(month: int, day: int, after: date) -> date:
    candidate = date(after.year, month, day)
    return candidate if candidate >= after else date(after.year + 1, month, day)


# The one day a year each kind of site closes: shops on Christmas Day, offices on New Year's Day.
CLOSED_ON = {"shop": (12, 25), "office": (1, 1)}


def _opening_times(site: Site, now: datetime) -> dict[str, Any]:
    """OCPI Hours: always open, or weekly hours plus the site's next yearly closing day."""
    if site.hours == "24/7":
        return {"twentyfourseven": True}
    zone = ZoneInfo(site.time_zone)
    today = now.astimezone(zone).date()
    month, day = CLOSED_ON[site.hours]
    closing = _next_date(month, day, today)
    if site.hours == "shop":
        regular = [(d, "08:00", "22:00") for d in range(1, 7)] + [(7, "10:00", "18:00")]
    else:
        regular = [(d, "06:00", "21:00") for d in range(1, 6)] + [(6, "08:00", "14:00")]
    return {
        "twentyfourseven": False,
        "regular_hours": [
            {"weekday": d, "period_begin": begin, "period_end": end} for d, begin, end in regular
        ],
        "exceptional_closings": [_local_day_period(closing, zone)],
    }


def _image(path: str, category: ImageCategory, width: int, height: int) -> dict[str, Any]:
    return {
        "url": f"{IMAGE_HOST}/{path}.jpg",
        "thumbnail": f"{IMAGE_HOST}/{path}-thumb.jpg",
        "category": category.value,
        "type": "jpeg",
        "width": width,
        "height": height,
    }


def _operator(identity: Party) -> dict[str, Any]:
    return {
        "name": identity.name,
        "website": WEBSITE,
        "logo": {
            "url": f"{IMAGE_HOST}/logo-{identity.country_code.lower()}.png",
            "category": ImageCategory.OPERATOR.value,
            "type": "png",
            "width": 512,
            "height": 512,
        },
    }


def _energy_mix(green: bool) -> dict[str, Any]:
    if green:
        return {
            "is_green_energy": True,
            "energy_sources": [
                {"source": EnergySourceCategory.WIND.value, "percentage": 70},
                {"source": EnergySourceCategory.SOLAR.value, "percentage": 30},
            ],
            "supplier_name": "Noordzee Stroom",
            "energy_product_name": "100% Wind & Zon",
        }
    return {
        "is_green_energy": False,
        "energy_sources": [
            {"source": EnergySourceCategory.GENERAL_GREEN.value, "percentage": 46.5},
            {"source": EnergySourceCategory.GAS.value, "percentage": 31.0},
            {"source": EnergySourceCategory.COAL.value, "percentage": 9.5},
            {"source": EnergySourceCategory.NUCLEAR.value, "percentage": 13.0},
        ],
        "environ_impact": [
            {"category": EnvironmentalImpactCategory.CARBON_DIOXIDE.value, "amount": 298},
            {"category": EnvironmentalImpactCategory.NUCLEAR_WASTE.value, "amount": 0.0003},
        ],
        "supplier_name": "Stadtwerke Energie",
        "energy_product_name": "Netzstrom Standard",
    }


def _parking_places(site: Site) -> list[dict[str, Any]]:
    """OCPI 2.3.0 parking bays, one per EVSE; fast chargers on a motorway take car and trailer."""
    places = []
    for number, spec in enumerate(site.evses, start=1):
        trailer = (
            site.parking_type == ParkingType.ALONG_MOTORWAY and CHARGER_MODELS[spec.model].is_dc
        )
        vehicle_types = [VehicleType.PERSONAL_VEHICLE.value]
        if trailer:
            vehicle_types.append(VehicleType.PERSONAL_VEHICLE_WITH_TRAILER.value)
        place: dict[str, Any] = {
            "id": f"P{number:02d}",
            "physical_reference": f"{number:02d}",
            "vehicle_types": vehicle_types,
            "restricted_to_type": False,
            "reservation_required": False,
            "direction": (
                ParkingDirection.PARALLEL if trailer else ParkingDirection.PERPENDICULAR
            ).value,
            "drive_through": trailer,
            "roofed": site.parking_type
            in (ParkingType.UNDERGROUND_GARAGE, ParkingType.PARKING_GARAGE),
            "lighting": True,
            "parking_space_length": 9.0 if trailer else 5.0,
            "parking_space_width": 3.5 if trailer else 2.5,
        }
        if site.parking_type == ParkingType.UNDERGROUND_GARAGE:
            place["max_vehicle_height"] = 2.1
        places.append(place)
    return places


def _offset(value: str, metres_north_or_east: float, latitude: bool) -> Decimal:
    # ~111 km per degree of latitude, ~65% of that per degree of longitude around 50° north:
    # enough to place EVSEs a few metres apart.
    degrees = metres_north_or_east / 111_000 / (1 if latitude else 0.65)
    return (Decimal(value) + Decimal(str(round(degrees, 6)))).quantize(Decimal("0.000001"))


# --------------------------------------------------------------------------------------------
# Our identities and the partner eMSPs
# --------------------------------------------------------------------------------------------


def site_operator(site: Site, ours: Sequence[Party]) -> Party | None:
    """Which of our CPO identities operates a site (None: the site is left out of the demo)."""
    by_country = {party.country_code: party for party in ours}
    for country in site.operator_countries or (COUNTRIES[site.country].alpha2,):
        if country in by_country:
            return by_country[country]
    return None if site.needs_local_identity else ours[0]


@dataclass(frozen=True)
class PartnerSpec:
    """A partner eMSP of the demo and how its contract ids are written."""

    country_code: str
    party_id: str
    name: str
    website: str
    dashed_emaid: bool
    language: str


PARTNERS = (
    PartnerSpec(
        "DE", "EMS", "Example Mobility", "https://www.example-mobility.example", True, "de"
    ),
    PartnerSpec("NL", "MSP", "Demo eMSP", "https://www.demo-emsp.example", False, "nl"),
)
TOKENS_PER_PARTNER = 20
BLOCKED_CARD = 18  # an RFID card the driver reported stolen: the eMSP invalidated it

_EMAID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_Matrix = tuple[tuple[int, int], tuple[int, int]]
# Per modulus, the fixed 2x2 matrix whose powers weight the characters of an eMAID.
_EMAID_MATRICES: dict[int, _Matrix] = {2: ((0, 1), (1, 1)), 3: ((0, 1), (1, 2))}


def _times(a: _Matrix, b: _Matrix, modulus: int) -> _Matrix:
    def cell(i: int, j: int) -> int:
        return (a[i][0] * b[0][j] + a[i][1] * b[1][j]) % modulus

    return (cell(0, 0), cell(0, 1)), (cell(1, 0), cell(1, 1))


def _emaid_weights(modulus: int) -> list[_Matrix]:
    """The matrix powers 1..15 (one per eMAID position) over Z2 or Z3."""
    powers = [_EMAID_MATRICES[modulus]]
    while len(powers) < 15:
        powers.append(_times(powers[-1], _EMAID_MATRICES[modulus], modulus))
    return powers


_EMAID_WEIGHTS = {modulus: _emaid_weights(modulus) for modulus in _EMAID_MATRICES}


def _emaid_is_consistent(emaid: str) -> bool:
    """The eMI3 contract-id check: each character is a pair over Z2 and a pair over Z3, weighted
    by powers of two fixed matrices; a valid id sums to zero in both."""
    sums = {2: [0, 0], 3: [0, 0]}
    for position, char in enumerate(emaid):
        high, low = divmod(_EMAID_ALPHABET.index(char), 9)
        vectors = {2: (high >> 1, high & 1), 3: divmod(low, 3)}
        for modulus, vector in vectors.items():
            weight = _EMAID_WEIGHTS[modulus][position]
            for j in range(2):
                sums[modulus][j] += vector[0] * weight[0][j] + vector[1] * weight[1][j]
    return all(total % modulus == 0 for modulus, pair in sums.items() for total in pair)


def emaid_check_digit(emaid: str) -> str:
    """Check character of a 14-character eMAID (country, provider, instance), without dashes."""
    body = emaid.replace("-", "").upper()
    if len(body) != 14 or any(char not in _EMAID_ALPHABET for char in body):
        raise ValueError(f"{emaid!r} is not a 14-character eMAID without check digit.")
    return next(char for char in _EMAID_ALPHABET if _emaid_is_consistent(body + char))


def _contract_id(partner: PartnerSpec, instance: str) -> str:
    check = emaid_check_digit(f"{partner.country_code}{partner.party_id}{instance}")
    if partner.dashed_emaid:
        return f"{partner.country_code}-{partner.party_id}-{instance}-{check}"
    return f"{partner.country_code}{partner.party_id}{instance}{check}"


def _rfid_uid(rng: random.Random) -> str:
    """A MIFARE-style card UID: 7 bytes from NXP (first byte 04) or an older 4-byte one."""
    if rng.random() < 0.75:
        return "04" + "".join(f"{rng.randrange(256):02X}" for _ in range(6))
    return "".join(f"{rng.randrange(256):02X}" for _ in range(4))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def tokens_build(
    partner: Party, spec: PartnerSpec, *, rng: random.Random, now: datetime
) -> list[Token]:
    """Twenty tokens of one eMSP: RFID cards and app users, a small fleet, one blocked card."""
    tokens = []
    instances: set[str] = set()
    uids: set[str] = set()
    for number in range(TOKENS_PER_PARTNER):
        instance = f"C{rng.randrange(10**7, 10**8)}"
        while instance in instances:
            instance = f"C{rng.randrange(10**7, 10**8)}"
        instances.add(instance)
        is_app = number % 4 == 3
        uid = _uuid(rng) if is_app else _rfid_uid(rng)
        while uid in uids:
            uid = _rfid_uid(rng)
        uids.add(uid)
        contract_id = _contract_id(spec, instance)
        fleet = number in (1, 2, 5)
        token = Token(
            owner=partner,
            uid=uid,
            type=TokenType.APP_USER if is_app else TokenType.RFID,
            contract_id=contract_id,
            visual_number="" if is_app else contract_id.replace("-", " "),
            issuer=f"{spec.name} Fleet Services" if fleet else spec.name,
            group_id=f"{spec.party_id}-FLEET-{spec.country_code}01" if fleet else "",
            valid=number != BLOCKED_CARD,
            whitelist=_whitelist(number, is_app),
            language=spec.language if number % 3 else "en",
            default_profile_type=(ProfileType.GREEN if number % 5 == 0 else ""),
            energy_contract=(
                {
                    "supplier_name": "Noordzee Stroom",
                    "contract_id": f"NZS-{rng.randrange(10**6):06d}",
                }
                if number % 7 == 0
                else None
            ),
            last_updated=now - timedelta(days=rng.randint(31, 400), minutes=rng.randint(0, 1439)),
        )
        tokens.append(token)
    return tokens


def _whitelist(number: int, is_app: bool) -> WhitelistType:
    # Apps start sessions by command; cards are mostly checked in real time, some are cached.
    if is_app:
        return WhitelistType.NEVER
    if number % 5 == 0:
        return WhitelistType.ALWAYS
    if number % 3 == 0:
        return WhitelistType.ALLOWED_OFFLINE
    return WhitelistType.ALLOWED


# --------------------------------------------------------------------------------------------
# Locations, EVSEs and connectors
# --------------------------------------------------------------------------------------------


@dataclass
class BuiltEvse:
    """An unsaved EVSE with its unsaved connectors."""

    evse: EVSE
    connectors: list[Connector]
    model: ChargerModel
    meter_id: str  # the calibrated meter sessions at this EVSE are measured with


@dataclass
class BuiltLocation:
    """An unsaved location with its EVSEs, the site it came from and the tariffs it refers to."""

    site: Site
    location: Location
    evses: list[BuiltEvse]
    ac_tariff_id: str
    dc_tariff_id: str


def tariff_id_for(site: Site, kind: str) -> str:
    """Tariffs are priced per country (VAT, currency), so the country is part of the id."""
    return f"{COUNTRIES[site.country].alpha2}-{kind}"


def location_build(
    site: Site, number: int, operator: Party, *, rng: random.Random, now: datetime
) -> BuiltLocation:
    """One site as an unsaved location with EVSEs and connectors (ids from `number`)."""
    country = COUNTRIES[site.country]
    created = now - timedelta(days=rng.randint(60, 720))
    location = Location(
        owner=operator,
        ocpi_id=f"LOC{number}",
        publish=site.publish,
        # The unpublished employee car park is shown only to the partner fleet's drivers.
        publish_allowed_to=(
            []
            if site.publish
            else [{"group_id": f"{p.party_id}-FLEET-{p.country_code}01"} for p in PARTNERS]
        ),
        name=site.name,
        address=site.address,
        city=site.city,
        postal_code=site.postal_code,
        state=site.state,
        country=site.country,
        latitude=Decimal(site.latitude),
        longitude=Decimal(site.longitude),
        related_locations=(
            [
                {
                    "latitude": str(_offset(site.latitude, 35, latitude=True)),
                    "longitude": str(_offset(site.longitude, -20, latitude=False)),
                    "name": {"language": "en", "text": "Car park entrance"},
                }
            ]
            if site.floor_level
            else []
        ),
        parking_type=site.parking_type,
        parking_places=_parking_places(site) if site.parkings else [],
        help_phone=country.help_phone,
        directions=[{"language": "en", "text": site.directions}] if site.directions else [],
        operator=_operator(operator),
        suboperator={"name": site.suboperator} if site.suboperator else None,
        owner_details={"name": site.site_owner} if site.site_owner else None,
        facilities=[f.value for f in site.facilities],
        time_zone=site.time_zone,
        opening_times=_opening_times(site, now),
        charging_when_closed=None if site.hours == "24/7" else site.hours == "office",
        images=(
            [
                _image(f"locations/loc{number}-overview", ImageCategory.LOCATION, 1920, 1080),
                _image(f"locations/loc{number}-entrance", ImageCategory.ENTRANCE, 1280, 960),
            ]
            if site.images
            else []
        ),
        energy_mix=_energy_mix(site.green) if site.green or number % 4 == 0 else None,
        last_updated=created,
    )
    built = BuiltLocation(
        site=site,
        location=location,
        evses=[],
        ac_tariff_id=tariff_id_for(site, site.ac_tariff),
        dc_tariff_id=tariff_id_for(site, site.dc_tariff),
    )
    for index, spec in enumerate(site.evses, start=1):
        built.evses.append(
            _evse_build(built, index, spec, operator, rng=rng, created=created, now=now)
        )
    location.last_updated = max(e.evse.last_updated for e in built.evses)
    return built


def _evse_build(
    built: BuiltLocation,
    index: int,
    spec: EvseSpec,
    operator: Party,
    *,
    rng: random.Random,
    created: datetime,
    now: datetime,
) -> BuiltEvse:
    site, location = built.site, built.location
    model = CHARGER_MODELS[spec.model]
    number = location.ocpi_id.removeprefix("LOC")
    changed = created + (now - created) * rng.random()
    status_schedule: list[dict[str, Any]] = []
    if spec.status == Status.PLANNED:
        status_schedule = [
            {
                "period_begin": ocpi_datetime(now + timedelta(days=45)),
                "status": Status.AVAILABLE.value,
            }
        ]
    elif spec.status == Status.OUTOFORDER:
        status_schedule = [
            {
                "period_begin": ocpi_datetime(now - timedelta(days=2)),
                "period_end": ocpi_datetime(now + timedelta(days=5)),
                "status": Status.OUTOFORDER.value,
            }
        ]
    evse = EVSE(
        location=location,
        uid=f"{location.ocpi_id}-{index:02d}",
        evse_id=f"{operator.country_code}*{operator.party_id}*E{number}{index:02d}",
        status=spec.status,
        status_schedule=status_schedule,
        capabilities=[c.value for c in model.capabilities],
        floor_level=site.floor_level,
        latitude=_offset(site.latitude, 4 * index, latitude=True),
        longitude=_offset(site.longitude, 3 * index, latitude=False),
        physical_reference=f"{index:02d}",
        directions=[],
        parking_restrictions=[ParkingRestriction.EV_ONLY.value]
        + ([ParkingRestriction.CUSTOMERS.value] if Facility.SUPERMARKET in site.facilities else []),
        parking=(
            [{"parking_id": f"P{index:02d}", "evse_position": EVSEPosition.CENTER.value}]
            if site.parkings
            else []
        ),
        images=(
            [_image(f"evses/{spec.model.lower()}", ImageCategory.CHARGER, 1080, 1440)]
            if site.images and index == 1
            else []
        ),
        last_updated=changed,
    )
    tariff_id = built.dc_tariff_id if model.is_dc else built.ac_tariff_id
    connectors = [
        Connector(
            evse=evse,
            ocpi_id=str(position),
            standard=standard,
            format=fmt,
            power_type=power_type,
            max_voltage=volts,
            max_amperage=amps,
            max_electric_power=watts,
            tariff_ids=[tariff_id],
            terms_and_conditions=TERMS_URL,
            capabilities=(
                [ConnectorCapability.ISO_15118_2_PLUG_AND_CHARGE.value]
                if model.plug_and_charge and standard == ConnectorType.IEC_62196_T2_COMBO
                else []
            ),
            last_updated=changed,
        )
        for position, (standard, fmt, power_type, volts, amps, watts) in enumerate(
            model.connectors, start=1
        )
    ]
    meter_id = f"{rng.choice(('EMH', 'ISK', 'LGZ'))}{rng.randrange(10**9, 10**10)}"
    return BuiltEvse(evse=evse, connectors=connectors, model=model, meter_id=meter_id)


# --------------------------------------------------------------------------------------------
# Charging sessions (plans first: the billing engine turns them into priced periods)
# --------------------------------------------------------------------------------------------

COMPLETED_SESSIONS = 40
HISTORY_DAYS = 30


@dataclass
class SessionPlan:
    """When, where and how one driver charged (or is charging): the input of a session row."""

    built: BuiltLocation
    evse: BuiltEvse
    connector: Connector
    token: Token
    start: datetime
    charging_seconds: int
    parking_seconds: int
    kwh: Decimal
    max_power_kw: Decimal
    active: bool = False
    # Identifiers, drawn once the plan is final so that rejected candidates cost no randomness.
    session_id: str = ""
    cdr_id: str = ""
    authorization_reference: str = ""
    cdr_delay_minutes: int = 0

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.charging_seconds + self.parking_seconds)


def _power(evse: BuiltEvse, connector: Connector, rng: random.Random) -> tuple[Decimal, Decimal]:
    """Peak and average kW: the lower of charger and car limit, less while the battery fills."""
    limit_kw = Decimal(connector.max_electric_power or 0) / 1000
    if evse.model.is_dc:
        peak = min(limit_kw, Decimal(rng.choice((50, 100, 135, 170, 250))))
        share = rng.uniform(0.55, 0.75)
    else:
        peak = min(limit_kw, Decimal(rng.choice(("7.4", "11", "11", "22"))))
        share = rng.uniform(0.85, 0.95)
    return peak, (peak * Decimal(str(round(share, 3)))).quantize(Decimal("0.01"))


def _charging_profile(
    evse: BuiltEvse, connector: Connector, local_start: datetime, rng: random.Random
) -> tuple[int, int, Decimal, Decimal]:
    """Charging seconds, idle seconds, kWh and peak kW for what the driver needed that day."""
    peak, average = _power(evse, connector, rng)
    if evse.model.is_dc:
        need = Decimal(rng.randint(12_000, 60_000)) / 1000
        parking = rng.choice((0, 0, 60, 180, 420))
    else:
        need = Decimal(rng.randint(5_000, 40_000)) / 1000
        # Evening arrivals stay the night; daytime drivers sometimes leave the car longer.
        if local_start.hour >= 19:
            parking = rng.randint(4, 9) * 3600
        else:
            parking = rng.choice((0, 0, 15 * 60, 45 * 60, 2 * 3600, 3 * 3600))
    charging = max(int(need / average * 3600), 8 * 60)
    kwh = (average * Decimal(charging) / 3600).quantize(Decimal("0.001"))
    return charging, parking, kwh, peak


def _local_start(day: date, zone: ZoneInfo, evse: BuiltEvse, rng: random.Random) -> datetime:
    if evse.model.is_dc:
        hour = rng.choice((7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21))
    else:
        hour = rng.choice((7, 8, 8, 9, 9, 10, 12, 14, 16, 18, 19, 20, 21, 22))
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=zone)


def _while_open(plan: SessionPlan) -> bool:
    """Whether the whole session lies within the site's opening hours (always, if 24/7)."""
    hours = plan.built.location.opening_times
    if not hours or hours["twentyfourseven"]:
        return True
    zone = ZoneInfo(plan.built.location.time_zone)
    start, end = plan.start.astimezone(zone), plan.end.astimezone(zone)
    if start.date() != end.date() or (start.month, start.day) == CLOSED_ON[plan.built.site.hours]:
        return False
    begin, until = start.strftime("%H:%M"), end.strftime("%H:%M")
    return any(
        period["weekday"] == start.isoweekday()
        and period["period_begin"] <= begin
        and until <= period["period_end"]
        for period in hours["regular_hours"]
    )


def session_plans_build(
    network: Sequence[BuiltLocation],
    tokens: Sequence[Token],
    *,
    rng: random.Random,
    now: datetime,
) -> list[SessionPlan]:
    """~40 finished sessions spread over the last 30 days, plus one for each CHARGING EVSE.

    Sessions never overlap on one EVSE, never run on EVSEs that are planned or broken, and only
    valid tokens charge.
    """
    usable = [t for t in tokens if t.valid]
    candidates = [
        (built, evse)
        for built in network
        for evse in built.evses
        if built.location.publish and evse.evse.status in (Status.AVAILABLE, Status.CHARGING)
    ]
    # Busy intervals per EVSE and per token: neither charges two cars at once.
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    plans: list[SessionPlan] = []
    for built, evse in candidates:
        if evse.evse.status == Status.CHARGING:
            token = rng.choice([t for t in usable if not busy[id(t)]])
            plan = _active_plan(built, evse, token, rng=rng, now=now)
            plans.append(plan)
            # The EVSE turned CHARGING when this session started, and told partners then.
            evse.evse.last_updated = plan.start
            built.location.last_updated = max(e.evse.last_updated for e in built.evses)
            busy[id(evse)].append((plan.start, now + timedelta(days=1)))
            busy[id(token)].append((plan.start, now + timedelta(days=1)))
    for _ in range(COMPLETED_SESSIONS * 50):
        if sum(not p.active for p in plans) == COMPLETED_SESSIONS:
            break
        built, evse = rng.choice(candidates)
        zone = ZoneInfo(built.location.time_zone)
        day = now.astimezone(zone).date() - timedelta(days=rng.randint(1, HISTORY_DAYS - 1))
        start = _local_start(day, zone, evse, rng)
        connector = rng.choice(evse.connectors)
        charging, parking, kwh, peak = _charging_profile(evse, connector, start, rng)
        token = rng.choice(usable)
        plan = SessionPlan(
            built, evse, connector, token, start.astimezone(UTC), charging, parking, kwh, peak
        )
        clashes = (
            plan.start < until and since < plan.end
            for since, until in (*busy[id(evse)], *busy[id(token)])
        )
        if plan.end > now - timedelta(minutes=30) or any(clashes) or not _while_open(plan):
            continue
        busy[id(evse)].append((plan.start, plan.end))
        busy[id(token)].append((plan.start, plan.end))
        plans.append(plan)
    if sum(not p.active for p in plans) < COMPLETED_SESSIONS:
        raise RuntimeError("Could not place the demo sessions without overlaps.")
    plans.sort(key=lambda p: p.start)
    for plan in plans:
        plan.session_id, plan.cdr_id = _uuid(rng), _uuid(rng)
        if _auth_method(plan.token) != AuthMethod.WHITELIST:
            plan.authorization_reference = "".join(rng.choices("0123456789ABCDEF", k=20))
        plan.cdr_delay_minutes = rng.randint(1, 9)
    return plans


def _active_plan(
    built: BuiltLocation, evse: BuiltEvse, token: Token, *, rng: random.Random, now: datetime
) -> SessionPlan:
    connector = evse.connectors[0]
    minutes = 22 if evse.model.is_dc else 95
    start = now - timedelta(minutes=minutes, seconds=rng.randrange(60))
    charging = int((now - start).total_seconds())
    peak, average = _power(evse, connector, rng)
    kwh = (average * charging / 3600).quantize(Decimal("0.001"))
    return SessionPlan(built, evse, connector, token, start, charging, 0, kwh, peak, active=True)


# --------------------------------------------------------------------------------------------
# Tariffs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentSpec:
    """A price component of a demo tariff; `price` is in EUR before the country factor."""

    type: TariffDimensionType
    price: Decimal
    step_size: int = 1


@dataclass(frozen=True)
class ElementSpec:
    """An element of a demo tariff: components and the restrictions they share."""

    components: tuple[ComponentSpec, ...]
    start_time: time | None = None
    end_time: time | None = None
    min_duration: int | None = None


@dataclass(frozen=True)
class TariffSpec:
    """A tariff kind; each country that uses it gets its own copy (currency, VAT, price level)."""

    kind: str
    elements: tuple[ElementSpec, ...]
    texts: dict[str, str]  # language -> text; {p0}, {p1}... are the component prices in order
    tax_included: TaxIncluded = TaxIncluded.NO
    preauthorize_amount: Decimal | None = None
    green: bool = False


_D = Decimal
_ENERGY, _FLAT = TariffDimensionType.ENERGY, TariffDimensionType.FLAT
_TIME, _PARKING = TariffDimensionType.TIME, TariffDimensionType.PARKING_TIME
TARIFF_SPECS = {
    spec.kind: spec
    for spec in (
        TariffSpec(
            "AC-STANDARD",
            (ElementSpec((ComponentSpec(_ENERGY, _D("0.35")),)),),
            {
                "en": "{p0} per kWh, excl. VAT.",
                "nl": "{p0} per kWh, excl. btw.",
                "de": "{p0} pro kWh, zzgl. MwSt.",
                "fr": "{p0} par kWh, hors TVA.",
            },
        ),
        TariffSpec(
            "AC-NIGHT",
            (
                ElementSpec((ComponentSpec(_ENERGY, _D("0.24")),), time(22), time(6)),
                ElementSpec((ComponentSpec(_ENERGY, _D("0.38")),)),
            ),
            {
                "en": "{p0} per kWh from 22:00 to 06:00, {p1} per kWh during the day, excl. VAT.",
                "nl": "{p0} per kWh van 22:00 tot 06:00, overdag {p1} per kWh, excl. btw.",
                "de": "{p0} pro kWh von 22:00 bis 06:00, tagsüber {p1} pro kWh, zzgl. MwSt.",
                "fr": "{p0} par kWh de 22h00 à 06h00, {p1} par kWh en journée, hors TVA.",
            },
        ),
        TariffSpec(
            "AC-CITY",
            (
                ElementSpec((ComponentSpec(_ENERGY, _D("0.36")),)),
                # Blocking fee: parking after charging costs money once the car has been here
                # for two hours, billed per started 5 minutes.
                ElementSpec((ComponentSpec(_PARKING, _D("6.00"), 300),), min_duration=7200),
            ),
            {
                "en": "{p0} per kWh; after 2 hours, {p1} per hour parked without charging. "
                "Excl. VAT.",
                "nl": "{p0} per kWh; na 2 uur {p1} per uur parkeren zonder te laden. Excl. btw.",
                "de": "{p0} pro kWh; nach 2 Stunden {p1} pro Stunde Standzeit ohne Laden. "
                "Zzgl. MwSt.",
                "fr": "{p0} par kWh ; après 2 heures, {p1} par heure de stationnement sans "
                "recharge. Hors TVA.",
            },
        ),
        TariffSpec(
            "DC-FAST",
            (
                ElementSpec(
                    (
                        ComponentSpec(_FLAT, _D("0.50")),
                        ComponentSpec(_ENERGY, _D("0.49")),
                        ComponentSpec(_TIME, _D("2.40"), 60),
                    )
                ),
            ),
            {
                "en": "{p0} per session, {p1} per kWh and {p2} per hour charging (per minute). "
                "Excl. VAT.",
                "nl": "{p0} starttarief, {p1} per kWh en {p2} per uur laden (per minuut). "
                "Excl. btw.",
                "de": "{p0} Startgebühr, {p1} pro kWh und {p2} pro Stunde Ladezeit (minutengenau). "
                "Zzgl. MwSt.",
                "fr": "{p0} par session, {p1} par kWh et {p2} par heure de charge (à la minute). "
                "Hors TVA.",
            },
        ),
        TariffSpec(
            "HPC",
            (
                ElementSpec((ComponentSpec(_ENERGY, _D("0.69")),)),
                # Idle fee at high-power chargers: they are too valuable to block.
                ElementSpec((ComponentSpec(_PARKING, _D("12.00"), 60),), min_duration=2700),
            ),
            {
                "en": "{p0} per kWh incl. VAT; from 45 minutes on, {p1} per hour idle.",
                "nl": "{p0} per kWh incl. btw; vanaf 45 minuten {p1} per uur stilstaan.",
                "de": "{p0} pro kWh inkl. MwSt.; ab 45 Minuten {p1} pro Stunde Standzeit.",
                "fr": "{p0} par kWh TTC ; après 45 minutes, {p1} par heure d'immobilisation.",
            },
            tax_included=TaxIncluded.YES,
            preauthorize_amount=_D("50.00"),
            green=True,
        ),
    )
}

# Price level per country relative to the specs above (energy and rents differ).
PRICE_LEVEL = {
    "NLD": _D("1.00"),
    "DEU": _D("1.10"),
    "BEL": _D("1.00"),
    "FRA": _D("0.95"),
    "GBR": _D("0.90"),
}


@dataclass
class BuiltTariff:
    """An unsaved tariff with its elements and their components, in order."""

    tariff: Tariff
    elements: list[tuple[TariffElement, list[PriceComponent]]]


def tariff_build(spec: TariffSpec, owner: Party, country: Country, *, now: datetime) -> BuiltTariff:
    """One country's copy of a tariff kind, owned by the identity operating there."""
    level = PRICE_LEVEL[country.alpha3]
    tariff_id = f"{country.alpha2}-{spec.kind}"
    tariff = Tariff(
        owner=owner,
        ocpi_id=tariff_id,
        currency=country.currency,
        tax_included=spec.tax_included,
        preauthorize_amount=spec.preauthorize_amount,
        energy_mix=_energy_mix(True) if spec.green else None,
        tariff_alt_url=f"{WEBSITE}/tariffs/{tariff_id.lower()}",
        last_updated=now - timedelta(days=90),
    )
    elements = []
    prices: list[Decimal] = []
    for position, element_spec in enumerate(spec.elements):
        element = TariffElement(
            tariff=tariff,
            position=position,
            start_time=element_spec.start_time,
            end_time=element_spec.end_time,
            min_duration=element_spec.min_duration,
        )
        components = []
        for index, component in enumerate(element_spec.components):
            price = (component.price * level).quantize(_D("0.01"))
            prices.append(price)
            components.append(
                PriceComponent(
                    element=element,
                    position=index,
                    type=component.type,
                    price=price,
                    vat=country.vat,
                    step_size=component.step_size,
                )
            )
        elements.append((element, components))
    languages = dict.fromkeys(("en", country.language))
    tariff.tariff_alt_text = [
        {
            "language": language,
            "text": spec.texts[language].format(
                **{f"p{i}": f"{country.currency} {price}" for i, price in enumerate(prices)}
            ),
        }
        for language in languages
    ]
    return BuiltTariff(tariff=tariff, elements=elements)


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --------------------------------------------------------------------------------------------
# Sessions and CDRs, priced by the billing engine
# --------------------------------------------------------------------------------------------


def _engine_periods(plan: SessionPlan) -> list[ChargingPeriodInput]:
    periods = [
        ChargingPeriodInput(
            start=plan.start,
            seconds=Decimal(plan.charging_seconds),
            kind=PeriodKind.CHARGING,
            energy=plan.kwh,
            max_power=plan.max_power_kw,
        )
    ]
    if plan.parking_seconds:
        periods.append(
            ChargingPeriodInput(
                start=plan.start + timedelta(seconds=plan.charging_seconds),
                seconds=Decimal(plan.parking_seconds),
                kind=PeriodKind.PARKING,
            )
        )
    return periods


_ROUNDING = {
    "ENERGY": round_energy,
    "TIME": round_hours,
    "PARKING_TIME": round_hours,
    "RESERVATION_TIME": round_hours,
}


def _volume(kind: str, volume: Decimal) -> int | float:
    """A dimension volume as a JSON number, kWh and hours rounded as the engine rounds totals."""
    rounding = _ROUNDING.get(kind)
    return _json_number(rounding(volume) if rounding else volume)


def _ocpi_periods(result: PricingResult, tariff_id: str) -> list[dict[str, Any]]:
    """The engine's split periods as OCPI ChargingPeriods."""
    return [
        {
            "start_date_time": ocpi_datetime(period.start),
            "dimensions": [
                {"type": kind, "volume": _volume(kind, volume)}
                for kind, volume in period.dimensions
            ],
            "tariff_id": tariff_id,
        }
        for period in result.periods
    ]


def _money_columns(money: Money) -> tuple[Decimal, list[dict[str, Any]]]:
    """cpms.money shape: the amount before taxes and its tax lines."""
    return money.excl_tax, [
        {
            "name": line.name,
            **(
                {"percentage": _json_number(line.percentage)} if line.percentage is not None else {}
            ),
            "amount": str(line.amount),
        }
        for line in money.taxes
    ]


def _auth_method(token: Token) -> AuthMethod:
    """Apps start sessions by command; cached cards are checked against the local whitelist."""
    if token.type == TokenType.APP_USER:
        return AuthMethod.COMMAND
    if token.whitelist == WhitelistType.ALWAYS:
        return AuthMethod.WHITELIST
    return AuthMethod.AUTH_REQUEST


@dataclass
class PricedSession:
    """A session row, its charging period rows, and the CDR of a finished session once issued."""

    session: Session
    periods: list[SessionChargingPeriod]
    cdr: CDR | None


def session_price(plan: SessionPlan, snapshot: dict[str, Any], *, now: datetime) -> PricedSession:
    """Price a planned session with the billing engine and build its rows (not yet saved).

    `snapshot` is the saved tariff as a CDR keeps it (an OCPI 2.3.0 Tariff). A finished
    session's CDR is issued after saving, by billing's `cdr_create_from_session`, which prices
    the session's periods under the same tariff.
    """
    result = price_session(
        tariff_from_ocpi(snapshot, "2.3.0"), _engine_periods(plan), plan.built.location.time_zone
    )
    token = plan.token
    cdr_token = {
        "country_code": token.owner.country_code,
        "party_id": token.owner.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }
    auth_method = _auth_method(token)
    total, total_taxes = _money_columns(result.total_cost)
    ocpi_periods = _ocpi_periods(result, snapshot["id"])
    session = Session(
        owner=plan.built.location.owner,
        ocpi_id=plan.session_id,
        start_date_time=plan.start,
        end_date_time=None if plan.active else plan.end,
        kwh=result.total_energy,
        token=token,
        cdr_token=cdr_token,
        emsp=token.owner,
        auth_method=auth_method,
        authorization_reference=plan.authorization_reference,
        location=plan.built.location,
        evse=plan.evse.evse,
        connector=plan.connector,
        meter_id=plan.evse.meter_id,
        currency=result.currency,
        total_cost=total,
        total_cost_taxes=total_taxes,
        status=SessionStatus.ACTIVE if plan.active else SessionStatus.COMPLETED,
        last_updated=now if plan.active else plan.end,
    )
    periods = [
        SessionChargingPeriod(
            session=session,
            start_date_time=datetime.fromisoformat(p["start_date_time"]),
            dimensions=p["dimensions"],
            tariff_id=p["tariff_id"],
        )
        for p in ocpi_periods
    ]
    return PricedSession(session, periods, None)


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


class DemoSeedError(Exception):
    """The database already holds data the demo could collide with; nothing was written."""


def demo_network_blockers() -> list[str]:
    """What already exists and keeps the demo from loading (empty: the database is fresh)."""
    checks: tuple[tuple[Any, str], ...] = (
        (Location, "locations"),
        (Tariff, "tariffs"),
        (Token, "tokens"),
        (Session, "sessions"),
        (CDR, "CDRs"),
    )
    return [f"{model.objects.count()} {label}" for model, label in checks if model.objects.exists()]


@dataclass
class DemoSummary:
    """What seeding created, for the command's report."""

    operators: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    locations: int = 0
    evses: int = 0
    connectors: int = 0
    countries: list[str] = field(default_factory=list)
    time_zones: list[str] = field(default_factory=list)
    tariffs: dict[str, list[str]] = field(default_factory=dict)  # ids per owner
    tokens: int = 0
    completed_sessions: int = 0
    active_sessions: int = 0
    cdrs: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)

    def lines(self) -> list[str]:
        revenue = ", ".join(f"{currency} {amount}" for currency, amount in self.revenue.items())
        return [
            f"Operators (ours): {', '.join(self.operators)}",
            f"Partner eMSPs:    {', '.join(self.partners)}",
            f"Locations:        {self.locations} in {', '.join(self.countries)} "
            f"({len(self.time_zones)} time zones), {self.evses} EVSEs, "
            f"{self.connectors} connectors",
            f"Tariffs:          {sum(map(len, self.tariffs.values()))}",
            *(f"  {owner}: {', '.join(ids)}" for owner, ids in self.tariffs.items()),
            f"Tokens:           {self.tokens}",
            f"Sessions:         {self.completed_sessions} completed, {self.active_sessions} active",
            f"CDRs:             {self.cdrs}, total before taxes {revenue or '-'}",
        ]


def _partners_ensure() -> list[tuple[Party, PartnerSpec]]:
    partners = []
    for spec in PARTNERS:
        party, _ = Party.objects.get_or_create(
            country_code=spec.country_code,
            party_id=spec.party_id,
            defaults={"name": spec.name, "roles": [Role.EMSP.value], "website": spec.website},
        )
        if not party.is_partner_emsp:
            raise DemoSeedError(f"{party.code} exists but is not a partner eMSP.")
        partners.append((party, spec))
    return partners


def _validated(objects: Iterable[Any]) -> list[Any]:
    """Run each model's own validation, since bulk_create skips save() and its checks.

    Foreign keys to rows saved just before are re-assigned first, which copies the parent's new
    primary key into the child. Uniqueness is left to the database constraints.
    """
    checked = []
    for obj in objects:
        for model_field in obj._meta.concrete_fields:
            if model_field.is_relation and model_field.is_cached(obj):
                setattr(obj, model_field.name, getattr(obj, model_field.name))
        obj.full_clean(validate_unique=False, validate_constraints=False)
        checked.append(obj)
    return checked


def _tariffs_build(
    network: Sequence[BuiltLocation], now: datetime
) -> dict[tuple[str, str], BuiltTariff]:
    """One tariff per (operator, country, kind) that some connector refers to."""
    tariffs: dict[tuple[str, str], BuiltTariff] = {}
    for built in network:
        owner = built.location.owner
        used = {e.model.is_dc for e in built.evses}
        kinds = [built.site.dc_tariff if dc else built.site.ac_tariff for dc in sorted(used)]
        for kind in kinds:
            key = (owner.code, tariff_id_for(built.site, kind))
            if key not in tariffs:
                tariffs[key] = tariff_build(
                    TARIFF_SPECS[kind], owner, COUNTRIES[built.site.country], now=now
                )
    return tariffs


@dataclass
class DemoNetwork:
    """Every unsaved row of the demo network, and the sessions still to be priced."""

    tokens: list[Token]
    locations: list[BuiltLocation]
    tariffs: dict[tuple[str, str], BuiltTariff]  # by (owner code, tariff id)
    plans: list[SessionPlan]


def demo_network_build(
    *,
    ours: Sequence[Party],
    partners: Sequence[tuple[Party, PartnerSpec]],
    seed: int,
    now: datetime,
) -> DemoNetwork:
    """Build (without saving) the whole network for our CPO identities and the partner eMSPs."""
    rng = random.Random(seed)
    tokens = [
        token for party, spec in partners for token in tokens_build(party, spec, rng=rng, now=now)
    ]
    locations: list[BuiltLocation] = []
    for site in SITES:
        operator = site_operator(site, ours)
        if operator is not None:
            locations.append(
                location_build(site, 1001 + len(locations), operator, rng=rng, now=now)
            )
    return DemoNetwork(
        tokens=tokens,
        locations=locations,
        tariffs=_tariffs_build(locations, now),
        plans=session_plans_build(locations, tokens, rng=rng, now=now),
    )


def _network_save(network: DemoNetwork) -> None:
    """Save tokens, locations and tariffs: parents before children, each kind in one query."""
    Token.objects.bulk_create(_validated(network.tokens))
    Location.objects.bulk_create(_validated(b.location for b in network.locations))
    evses = [e for b in network.locations for e in b.evses]
    EVSE.objects.bulk_create(_validated(e.evse for e in evses))
    Connector.objects.bulk_create(_validated(c for e in evses for c in e.connectors))
    Tariff.objects.bulk_create(_validated(t.tariff for t in network.tariffs.values()))
    elements = [pair for t in network.tariffs.values() for pair in t.elements]
    TariffElement.objects.bulk_create(_validated(e for e, _ in elements))
    PriceComponent.objects.bulk_create(_validated(c for _, cs in elements for c in cs))


def _sessions_save(network: DemoNetwork, now: datetime) -> list[PricedSession]:
    """Price every planned session against its saved tariff, save them, and issue their CDRs."""
    saved = Tariff.objects.filter(pk__in=[t.tariff.pk for t in network.tariffs.values()])
    snapshots = {(t.owner.code, t.ocpi_id): tariff_snapshot(t) for t in tariffs_for_ocpi(saved)}
    priced = [
        session_price(
            plan,
            snapshots[(plan.built.location.owner.code, plan.connector.tariff_ids[0])],
            now=now,
        )
        for plan in network.plans
    ]
    Session.objects.bulk_create(_validated(p.session for p in priced))
    SessionChargingPeriod.objects.bulk_create(_validated(cp for p in priced for cp in p.periods))
    for plan, p in zip(network.plans, priced, strict=True):
        if not plan.active:
            # CDRs are made a few minutes after the driver unplugs.
            issued = plan.end + timedelta(minutes=plan.cdr_delay_minutes)
            p.cdr = cdr_create_from_session(session=p.session, ocpi_id=plan.cdr_id, now=issued)
    return priced


@transaction.atomic
def demo_network_seed(*, seed: int = DEFAULT_SEED, now: datetime | None = None) -> DemoSummary:
    """Load the demo network into an empty database; DemoSeedError if it is not empty."""
    blockers = demo_network_blockers()
    if blockers:
        raise DemoSeedError(f"The database already holds {', '.join(blockers)}.")
    ours = [party for party in parties_sync_ours() if party.is_our_cpo]
    for party in ours:
        ensure_our_cpo(party)
    partners = _partners_ensure()
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    network = demo_network_build(ours=ours, partners=partners, seed=seed, now=now)
    _network_save(network)
    priced = _sessions_save(network, now)

    cdrs = [p.cdr for p in priced if p.cdr is not None]
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for cdr in cdrs:
        revenue[cdr.currency] += cdr.total_cost
    tariffs: dict[str, list[str]] = defaultdict(list)
    for owner_code, tariff_id in sorted(network.tariffs):
        tariffs[owner_code].append(tariff_id)
    locations = [b.location for b in network.locations]
    return DemoSummary(
        operators=sorted({location.owner.code for location in locations}),
        partners=[f"{party.code} {party.name}" for party, _ in partners],
        locations=len(locations),
        evses=sum(len(b.evses) for b in network.locations),
        connectors=sum(len(e.connectors) for b in network.locations for e in b.evses),
        countries=sorted({location.country for location in locations}),
        time_zones=sorted({location.time_zone for location in locations}),
        tariffs=dict(tariffs),
        tokens=len(network.tokens),
        completed_sessions=len(cdrs),
        active_sessions=len(priced) - len(cdrs),
        cdrs=len(cdrs),
        revenue=dict(revenue),
    )
