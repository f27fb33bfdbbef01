"""Synthetic charging networks of any size, for load tests and benchmarks (`generate_network`).

Where the demo network (locations.demo_network) is a few dozen hand-made sites, this draws as
many as asked from one seeded random generator: sites in a dozen countries and time zones, street
chargers, destination chargers, fast-charging hubs and motorway high-power stations, each EVSE
with two connectors, eMI3 EVSE ids under the operating identity, per-country tariffs, tokens of
partner eMSPs with valid eMAIDs, and finished sessions with CDRs priced by the billing engine.

Rows are written with bulk_create, parents before children, one batch of locations (with their
EVSEs and connectors) per transaction, so memory stays flat whatever the size. bulk_create skips
save() and its checks, so the first batch of every kind is run through the models' full_clean()
(the rest is made by the same code). Identifiers carry a tag derived from the seed, so networks
of different seeds can share a database; the same seed twice is refused.
"""

from __future__ import annotations

import random
import time as clock
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from billing.choices import TariffDimensionType, TariffType, TaxIncluded
from billing.models import CDR, PriceComponent, Tariff, TariffElement
from billing.pricing import (
    ChargingPeriodInput,
    CostCategory,
    Money,
    PeriodKind,
    PricingResult,
    price_session,
    tariff_from_ocpi,
)
from billing.pricing.rounding import round_energy, round_hours
from locations.choices import (
    Capability,
    ConnectorFormat,
    ConnectorType,
    Facility,
    ParkingRestriction,
    ParkingType,
    PowerType,
    Status,
)
from locations.demo_network import emaid_check_digit
from locations.models import EVSE, Connector, Location
from roaming.choices import Role
from roaming.models import Party
from roaming.modules.tariffs.serializers import tariff_snapshot, tariffs_for_ocpi
from roaming.services import parties_sync_ours
from sessions_app.choices import AuthMethod, SessionStatus, TokenType, WhitelistType
from sessions_app.models import Session, SessionChargingPeriod, Token

DEFAULT_SEED = 1
DEFAULT_EVSES_PER_LOCATION = 3
LOCATION_BATCH = 2000
SESSION_BATCH = 1000
HISTORY_DAYS = 90
WEBSITE = "https://www.open-cpms.example"

M = TypeVar("M", bound=models.Model)
Progress = Callable[[str], None]


class NetworkGeneratorError(Exception):
    """The network cannot be generated as asked; nothing was written."""


# --- markets and cities ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """A country as tariffs and addresses need it."""

    alpha2: str
    alpha3: str
    currency: str
    vat: Decimal
    price_level: Decimal  # relative to the base prices below
    language: str
    help_phone: str
    postal: str  # pattern: 9 a digit, A a capital letter, anything else as is
    streets: tuple[str, ...]
    number_first: bool = False  # "12 High Street" rather than "Hauptstraße 12"


@dataclass(frozen=True)
class City:
    name: str
    market: Market
    latitude: float
    longitude: float
    time_zone: str
    weight: int  # relative share of the network's sites
    state: str = ""


_D = Decimal
NL = Market(
    "NL", "NLD", "EUR", _D(21), _D("1.00"), "nl", "+31 20 808 4300", "9999 AA",
    ("Stationsplein", "Kerkstraat", "Dorpsstraat", "Marktplein", "Molenweg", "Havenstraat"),
)  # fmt: skip
DE = Market(
    "DE", "DEU", "EUR", _D(19), _D("1.10"), "de", "+49 30 2555 8400", "99999",
    ("Hauptstraße", "Bahnhofstraße", "Schulstraße", "Gartenstraße", "Dorfstraße", "Ringstraße"),
)  # fmt: skip
BE = Market(
    "BE", "BEL", "EUR", _D(21), _D("1.00"), "nl", "+32 2 808 4300", "9999",
    ("Stationsstraat", "Kerkstraat", "Rue de la Station", "Grote Markt", "Nieuwstraat"),
)  # fmt: skip
FR = Market(
    "FR", "FRA", "EUR", _D(20), _D("0.95"), "fr", "+33 1 84 88 43 00", "99999",
    ("rue de la Gare", "avenue Jean Jaurès", "rue Victor Hugo", "place de la République"),
    number_first=True,
)  # fmt: skip
GB = Market(
    "GB", "GBR", "GBP", _D(20), _D("0.90"), "en", "+44 20 3808 4300", "AA9 9AA",
    ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Road"),
    number_first=True,
)  # fmt: skip
IE = Market(
    "IE", "IRL", "EUR", _D(23), _D("1.05"), "en", "+353 1 526 4300", "A99 AA99",
    ("Main Street", "Church Street", "Bridge Street", "Dublin Road"), number_first=True,
)  # fmt: skip
ES = Market(
    "ES", "ESP", "EUR", _D(21), _D("0.85"), "es", "+34 910 60 43 00", "99999",
    ("Calle Mayor", "Avenida de la Constitución", "Calle Real", "Plaza de España"),
)  # fmt: skip
PT = Market(
    "PT", "PRT", "EUR", _D(23), _D("0.80"), "pt", "+351 21 123 4300", "9999-999",
    ("Rua Direita", "Avenida da Liberdade", "Rua do Comércio", "Largo da Estação"),
)  # fmt: skip
PL = Market(
    "PL", "POL", "PLN", _D(23), _D("3.90"), "pl", "+48 22 208 4300", "99-999",
    ("ulica Dworcowa", "ulica Kościuszki", "ulica Mickiewicza", "ulica Polna"),
)  # fmt: skip
FI = Market(
    "FI", "FIN", "EUR", _D("25.5"), _D("1.05"), "fi", "+358 9 4245 4300", "99999",
    ("Asemakatu", "Kauppakatu", "Rautatienkatu", "Koulukatu"),
)  # fmt: skip
GR = Market(
    "GR", "GRC", "EUR", _D(24), _D("0.90"), "el", "+30 21 0808 4300", "999 99",
    ("Odos Ermou", "Leoforos Syngrou", "Odos Athinas", "Odos Stadiou"),
)  # fmt: skip
DK = Market(
    "DK", "DNK", "DKK", _D(25), _D("7.50"), "da", "+45 32 72 43 00", "9999",
    ("Stationsvej", "Kirkevej", "Skolegade", "Vestergade", "Østergade"),
)  # fmt: skip

CITIES: tuple[City, ...] = (
    City("Amsterdam", NL, 52.3702, 4.8952, "Europe/Amsterdam", 9),
    City("Rotterdam", NL, 51.9244, 4.4777, "Europe/Amsterdam", 6),
    City("Utrecht", NL, 52.0907, 5.1214, "Europe/Amsterdam", 5),
    City("Eindhoven", NL, 51.4416, 5.4697, "Europe/Amsterdam", 3),
    City("Groningen", NL, 53.2194, 6.5665, "Europe/Amsterdam", 2),
    City("Berlin", DE, 52.5200, 13.4050, "Europe/Berlin", 9, "Berlin"),
    City("Hamburg", DE, 53.5511, 9.9937, "Europe/Berlin", 6, "Hamburg"),
    City("München", DE, 48.1351, 11.5820, "Europe/Berlin", 6, "Bayern"),
    City("Köln", DE, 50.9375, 6.9603, "Europe/Berlin", 4, "Nordrhein-Westfalen"),
    City("Stuttgart", DE, 48.7758, 9.1829, "Europe/Berlin", 3, "Baden-Württemberg"),
    City("Bruxelles", BE, 50.8503, 4.3517, "Europe/Brussels", 4),
    City("Antwerpen", BE, 51.2194, 4.4025, "Europe/Brussels", 3),
    City("Paris", FR, 48.8566, 2.3522, "Europe/Paris", 8),
    City("Lyon", FR, 45.7640, 4.8357, "Europe/Paris", 4),
    City("Toulouse", FR, 43.6047, 1.4442, "Europe/Paris", 2),
    City("London", GB, 51.5074, -0.1278, "Europe/London", 8),
    City("Manchester", GB, 53.4808, -2.2426, "Europe/London", 3),
    City("Dublin", IE, 53.3498, -6.2603, "Europe/Dublin", 3),
    City("Madrid", ES, 40.4168, -3.7038, "Europe/Madrid", 4),
    City("Barcelona", ES, 41.3874, 2.1686, "Europe/Madrid", 4, "Cataluña"),
    City("Las Palmas de Gran Canaria", ES, 28.1235, -15.4363, "Atlantic/Canary", 1, "Canarias"),
    City("Lisboa", PT, 38.7223, -9.1393, "Europe/Lisbon", 3),
    City("Funchal", PT, 32.6669, -16.9241, "Atlantic/Madeira", 1, "Madeira"),
    City("Warszawa", PL, 52.2297, 21.0122, "Europe/Warsaw", 3),
    City("Helsinki", FI, 60.1699, 24.9384, "Europe/Helsinki", 2),
    City("Athína", GR, 37.9838, 23.7275, "Europe/Athens", 2),
    City("København", DK, 55.6761, 12.5683, "Europe/Copenhagen", 3),
)
_CITY_WEIGHTS = [city.weight for city in CITIES]


# --- charger models and kinds of site ---------------------------------------------------------------


@dataclass(frozen=True)
class ChargerModel:
    """A hardware model: two connectors (standard, format, power type, V, A, W), capabilities."""

    connectors: tuple[tuple[ConnectorType, ConnectorFormat, PowerType, int, int, int], ...]
    capabilities: tuple[Capability, ...]
    dc: bool = False


_T2, _CCS, _CHADEMO = (
    ConnectorType.IEC_62196_T2,
    ConnectorType.IEC_62196_T2_COMBO,
    ConnectorType.CHADEMO,
)
_SOCKET, _CABLE = ConnectorFormat.SOCKET, ConnectorFormat.CABLE
_AC1, _AC3, _DC = PowerType.AC_1_PHASE, PowerType.AC_3_PHASE, PowerType.DC
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
)

CHARGER_MODELS = {
    # AC voltage is line to neutral for 3 phases: 3 x 230 V x 16 A = 11 kW.
    "AC11": ChargerModel(
        (
            (_T2, _SOCKET, _AC3, 230, 16, 11000),
            (ConnectorType.DOMESTIC_F, _SOCKET, _AC1, 230, 16, 3680),
        ),
        _AC_CAPS,
    ),
    "AC22": ChargerModel(
        ((_T2, _SOCKET, _AC3, 230, 32, 22000), (_T2, _CABLE, _AC3, 230, 32, 22000)), _AC_CAPS
    ),
    "DC50": ChargerModel(
        ((_CCS, _CABLE, _DC, 500, 125, 50000), (_CHADEMO, _CABLE, _DC, 500, 125, 50000)),
        _DC_CAPS,
        dc=True,
    ),
    "DC150": ChargerModel(
        ((_CCS, _CABLE, _DC, 920, 250, 150000), (_CHADEMO, _CABLE, _DC, 500, 125, 50000)),
        (*_DC_CAPS, Capability.PED_TERMINAL),
        dc=True,
    ),
    "HPC350": ChargerModel(
        ((_CCS, _CABLE, _DC, 920, 500, 350000), (_T2, _CABLE, _AC3, 230, 63, 43000)),
        (*_DC_CAPS, Capability.PED_TERMINAL, Capability.CHARGING_PREFERENCES_CAPABLE),
        dc=True,
    ),
}


@dataclass(frozen=True)
class SiteKind:
    """A kind of charging site: which chargers it has, where cars park, when it is open."""

    name: str
    weight: int
    models: tuple[str, ...]  # the first EVSE uses models[0]; the others draw from all
    parking_types: tuple[ParkingType, ...]
    facilities: tuple[Facility, ...]
    ac_tariffs: tuple[str, ...]
    open_hours_share: float  # share of sites of this kind that are not open 24/7


SITE_KINDS: tuple[SiteKind, ...] = (
    SiteKind(
        "street", 45, ("AC11", "AC11", "AC22"), (ParkingType.ON_STREET,),
        (Facility.BUS_STOP, Facility.CAFE, Facility.SUPERMARKET, Facility.TRAM_STOP),
        ("AC-CITY", "AC-STANDARD"), 0.0,
    ),
    SiteKind(
        "destination", 25, ("AC22", "AC11"),
        (ParkingType.PARKING_LOT, ParkingType.PARKING_GARAGE, ParkingType.UNDERGROUND_GARAGE),
        (Facility.MALL, Facility.HOTEL, Facility.RESTAURANT, Facility.SPORT, Facility.WIFI),
        ("AC-NIGHT", "AC-STANDARD"), 0.5,
    ),
    SiteKind(
        "fast", 20, ("DC50", "DC150", "AC22"), (ParkingType.PARKING_LOT,),
        (Facility.SUPERMARKET, Facility.TRAIN_STATION, Facility.CAFE, Facility.WIFI),
        ("AC-STANDARD",), 0.2,
    ),
    SiteKind(
        "motorway", 10, ("HPC350", "DC150"), (ParkingType.ALONG_MOTORWAY,),
        (Facility.FUEL_STATION, Facility.RESTAURANT, Facility.CAFE, Facility.WIFI),
        ("AC-STANDARD",), 0.0,
    ),
)  # fmt: skip
_KIND_WEIGHTS = [kind.weight for kind in SITE_KINDS]

_STATUSES = (
    (Status.AVAILABLE, 70),
    (Status.CHARGING, 14),
    (Status.OUTOFORDER, 3),
    (Status.INOPERATIVE, 2),
    (Status.BLOCKED, 2),
    (Status.UNKNOWN, 3),
    (Status.PLANNED, 2),
    (Status.REMOVED, 4),
)
_STATUS_VALUES = [status for status, _ in _STATUSES]
_STATUS_WEIGHTS = [weight for _, weight in _STATUSES]
_CHARGEABLE = (Status.AVAILABLE, Status.CHARGING, Status.BLOCKED)


# --- tariffs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffKind:
    """A tariff every market gets a copy of; prices are base prices times the market's level."""

    name: str
    # Elements: (components as (dimension, base price, step size), restrictions).
    elements: tuple[
        tuple[tuple[tuple[TariffDimensionType, Decimal, int], ...], dict[str, Any]], ...
    ]
    text: str
    tax_included: TaxIncluded = TaxIncluded.NO


_ENERGY, _FLAT = TariffDimensionType.ENERGY, TariffDimensionType.FLAT
_TIME, _PARKING = TariffDimensionType.TIME, TariffDimensionType.PARKING_TIME
TARIFF_KINDS = {
    kind.name: kind
    for kind in (
        TariffKind("AC-STANDARD", ((((_ENERGY, _D("0.35"), 1),), {}),), "Per kWh."),
        TariffKind(
            "AC-NIGHT",
            (
                (((_ENERGY, _D("0.24"), 1),), {"start_time": time(22), "end_time": time(6)}),
                (((_ENERGY, _D("0.38"), 1),), {}),
            ),
            "Per kWh, cheaper from 22:00 to 06:00.",
        ),
        TariffKind(
            "AC-CITY",
            (
                (((_ENERGY, _D("0.36"), 1),), {}),
                (((_PARKING, _D("6.00"), 300),), {"min_duration": 7200}),
            ),
            "Per kWh; after 2 hours, per hour parked without charging.",
        ),
        TariffKind(
            "DC-FAST",
            ((((_FLAT, _D("0.50"), 1), (_ENERGY, _D("0.49"), 1), (_TIME, _D("2.40"), 60)), {}),),
            "Start fee, per kWh, and per minute charging.",
        ),
        TariffKind(
            "HPC",
            (
                (((_ENERGY, _D("0.69"), 1),), {}),
                (((_PARKING, _D("12.00"), 60),), {"min_duration": 2700}),
            ),
            "Per kWh incl. VAT; from 45 minutes on, per hour idle.",
            TaxIncluded.YES,
        ),
    )
}


# --- partner eMSPs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerSpec:
    country_code: str
    party_id: str
    name: str
    language: str


PARTNERS = (
    PartnerSpec("DE", "EMS", "Example Mobility", "de"),
    PartnerSpec("NL", "MSP", "Demo eMSP", "nl"),
    PartnerSpec("FR", "EVM", "EV Mobilité", "fr"),
)


# --- the generator -----------------------------------------------------------------------------------


@dataclass
class NetworkSummary:
    """What was generated, for the command's report."""

    seed_tag: str = ""
    locations: int = 0
    evses: int = 0
    connectors: int = 0
    tariffs: int = 0
    tokens: int = 0
    sessions: int = 0
    cdrs: int = 0
    countries: set[str] = field(default_factory=set)
    time_zones: set[str] = field(default_factory=set)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"Seed tag:   {self.seed_tag}",
            f"Locations:  {self.locations} in {len(self.countries)} countries, "
            f"{len(self.time_zones)} time zones",
            f"EVSEs:      {self.evses}, connectors: {self.connectors}",
            f"Tariffs:    {self.tariffs}",
            f"Tokens:     {self.tokens}",
            f"Sessions:   {self.sessions} finished, CDRs: {self.cdrs}",
            f"Time:       {self.seconds:.1f} s",
        ]


def seed_tag(seed: int) -> str:
    """A short, id-safe tag of the seed (base 36), so that two seeds never share an id."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    value, tag = abs(seed), ""
    while True:
        value, rest = divmod(value, 36)
        tag = digits[rest] + tag
        if not value:
            return ("N" if seed < 0 else "") + tag


def _batches(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(start + size, total))


def _validated(objects: Sequence[M], *, check: bool) -> Sequence[M]:
    """Run each model's own validation on the objects when `check` (the first batch of a kind)."""
    if check:
        for obj in objects:
            concrete: Any = obj._meta.concrete_fields
            for model_field in concrete:
                # Copy the pk of a parent saved since the child was built.
                if model_field.is_relation and model_field.is_cached(obj):
                    setattr(obj, model_field.name, getattr(obj, model_field.name))
            obj.full_clean(validate_unique=False, validate_constraints=False)
    return objects


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ocpi_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NetworkGenerator:
    """Generates one network; see the module docstring."""

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.seed = seed
        self.tag = seed_tag(seed)
        self.rng = random.Random(seed)
        self.now = (now or timezone.now()).replace(microsecond=0)
        self.progress = progress or (lambda line: None)
        self.summary = NetworkSummary(seed_tag=self.tag)
        ours = [party for party in parties_sync_ours() if party.is_our_cpo]
        if not ours:
            raise NetworkGeneratorError("OCPI_OUR_PARTIES names no CPO identity of ours.")
        self.ours = ours
        self._ours_by_country = {party.country_code: party for party in ours}
        self._fleet_groups: list[str] = []

    # -- public steps --

    def run(
        self, *, locations: int, evses_per_location: int, tokens: int, cdrs: int
    ) -> NetworkSummary:
        if locations < 0 or tokens < 0 or cdrs < 0 or evses_per_location < 1:
            raise NetworkGeneratorError("Counts must not be negative; at least one EVSE per site.")
        if cdrs and not locations and not Location.objects.exists():
            raise NetworkGeneratorError("CDRs need locations to charge at.")
        if cdrs and not tokens and not Token.objects.exists():
            raise NetworkGeneratorError("CDRs need tokens of partner eMSPs to charge with.")
        self._refuse_seed_used()
        started = clock.monotonic()
        if tokens:
            self.tokens_generate(tokens)
        if locations:
            self.tariffs_generate()
            self.locations_generate(locations, evses_per_location)
        if cdrs:
            self.sessions_generate(cdrs)
        self.summary.seconds = clock.monotonic() - started
        return self.summary

    def location_id(self, number: int) -> str:
        return f"GEN{self.tag}-{number + 1:07d}"

    def contract_id(self, country_code: str, party_id: str, number: int) -> str:
        """eMAID: country, provider, instance (seed tag and number), check character."""
        instance = f"{self.tag}{number:0{9 - len(self.tag)}d}"
        if len(instance) > 9:
            raise NetworkGeneratorError("Too many tokens for one seed tag.")
        check = emaid_check_digit(f"{country_code}{party_id}{instance}")
        return f"{country_code}-{party_id}-{instance}-{check}"

    def _refuse_seed_used(self) -> None:
        first_token = self.contract_id(PARTNERS[0].country_code, PARTNERS[0].party_id, 0)
        if (
            Location.objects.filter(ocpi_id__ci=self.location_id(0)).exists()
            or Token.objects.filter(contract_id=first_token).exists()
        ):
            raise NetworkGeneratorError(
                f"A network generated with seed {self.seed} is already in this database; "
                "give another --seed."
            )

    # -- partner eMSPs and their tokens --

    def partners_ensure(self) -> list[tuple[Party, PartnerSpec]]:
        partners = []
        for spec in PARTNERS:
            party, _ = Party.objects.get_or_create(
                country_code=spec.country_code,
                party_id=spec.party_id,
                defaults={"name": spec.name, "roles": [Role.EMSP.value]},
            )
            if not party.is_partner_emsp:
                raise NetworkGeneratorError(f"{party.code} exists but is not a partner eMSP.")
            partners.append((party, spec))
        return partners

    def tokens_generate(self, count: int) -> None:
        """`count` tokens spread over the partner eMSPs: RFID cards, app users, fleet cards."""
        partners = self.partners_ensure()
        rng = self.rng
        uids: set[str] = set()
        first = True
        for batch in _batches(count, 5000):
            rows = []
            for number in batch:
                party, spec = partners[number % len(partners)]
                rows.append(self._token(party, spec, number, rng, uids))
            with transaction.atomic():
                Token.objects.bulk_create(_validated(rows, check=first))
            first = False
            self.summary.tokens += len(rows)
            self.progress(f"tokens {self.summary.tokens}/{count}")

    def _token(
        self, party: Party, spec: PartnerSpec, number: int, rng: random.Random, uids: set[str]
    ) -> Token:
        is_app = rng.random() < 0.25
        uid = ""
        while not uid or uid in uids:
            uid = (
                _uuid(rng)
                if is_app
                else "04" + "".join(f"{rng.randrange(256):02X}" for _ in range(6))
            )
        uids.add(uid)
        contract_id = self.contract_id(party.country_code, party.party_id, number)
        fleet = not is_app and rng.random() < 0.1
        group_id = f"{party.party_id}-FLEET-{self.tag}-{number % 50:02d}" if fleet else ""
        if group_id and len(self._fleet_groups) < 200:
            self._fleet_groups.append(group_id)
        whitelist = WhitelistType.NEVER if is_app else rng.choice(
            (WhitelistType.ALLOWED, WhitelistType.ALLOWED, WhitelistType.ALWAYS,
             WhitelistType.ALLOWED_OFFLINE)
        )  # fmt: skip
        return Token(
            owner=party,
            uid=uid,
            type=TokenType.APP_USER if is_app else TokenType.RFID,
            contract_id=contract_id,
            visual_number="" if is_app else contract_id.replace("-", " "),
            issuer=f"{spec.name} Fleet Services" if fleet else spec.name,
            group_id=group_id,
            valid=rng.random() > 0.02,
            whitelist=whitelist,
            language=spec.language if rng.random() < 0.8 else "en",
            last_updated=self.now
            - timedelta(days=rng.randint(1, 700), seconds=rng.randrange(86400)),
        )

    # -- tariffs --

    def _tariff_owner(self, market: Market) -> Party:
        """The identity that operates in a market: the local one if we have it, else the first."""
        return self._ours_by_country.get(market.alpha2, self.ours[0])

    def tariff_id(self, market: Market, kind: str) -> str:
        return f"{market.alpha2}-{kind}"

    def tariffs_generate(self) -> None:
        """Every tariff kind for every market, owned by the identity operating there (if new)."""
        markets = {city.market.alpha3: city.market for city in CITIES}
        existing = set(
            Tariff.objects.annotate(lower_id=Lower("ocpi_id")).values_list("owner_id", "lower_id")
        )
        tariffs: list[Tariff] = []
        elements: list[TariffElement] = []
        components: list[PriceComponent] = []
        for market in markets.values():
            owner = self._tariff_owner(market)
            for kind in TARIFF_KINDS.values():
                tariff_id = self.tariff_id(market, kind.name)
                if (owner.pk, tariff_id.lower()) in existing:
                    continue
                tariff = Tariff(
                    owner=owner,
                    ocpi_id=tariff_id,
                    currency=market.currency,
                    type=TariffType.REGULAR,
                    tax_included=kind.tax_included,
                    tariff_alt_text=[{"language": "en", "text": kind.text}],
                    tariff_alt_url=f"{WEBSITE}/tariffs/{tariff_id.lower()}",
                    last_updated=self.now - timedelta(days=120),
                )
                tariffs.append(tariff)
                for position, (parts, restrictions) in enumerate(kind.elements):
                    element = TariffElement(tariff=tariff, position=position, **restrictions)
                    elements.append(element)
                    for index, (dimension, base_price, step) in enumerate(parts):
                        components.append(
                            PriceComponent(
                                element=element,
                                position=index,
                                type=dimension,
                                price=(base_price * market.price_level).quantize(_D("0.01")),
                                vat=market.vat,
                                step_size=step,
                            )
                        )
        with transaction.atomic():
            Tariff.objects.bulk_create(_validated(tariffs, check=True))
            TariffElement.objects.bulk_create(_validated(elements, check=True))
            PriceComponent.objects.bulk_create(_validated(components, check=True))
        self.summary.tariffs = len(tariffs)
        self.progress(f"tariffs {len(tariffs)}")

    # -- locations, EVSEs, connectors --

    def locations_generate(self, count: int, evses_per_location: int) -> None:
        if not self._fleet_groups:
            # Unpublished sites are shown to fleets of tokens generated earlier, if any.
            self._fleet_groups = list(
                Token.objects.exclude(group_id="")
                .order_by("group_id")
                .values_list("group_id", flat=True)
                .distinct()[:200]
            )
        started = clock.monotonic()
        already = self.summary.locations
        first = not already
        for batch in _batches(count, LOCATION_BATCH):
            locations: list[Location] = []
            evses: list[EVSE] = []
            connectors: list[Connector] = []
            for _ in batch:
                location, site_evses, site_connectors = self._site(
                    self.summary.locations + len(locations), evses_per_location
                )
                locations.append(location)
                evses.extend(site_evses)
                connectors.extend(site_connectors)
            with transaction.atomic():
                Location.objects.bulk_create(_validated(locations, check=first))
                for evse in evses:
                    evse.location_id = evse.location.pk
                EVSE.objects.bulk_create(_validated(evses, check=first))
                for connector in connectors:
                    connector.evse_id = connector.evse.pk
                Connector.objects.bulk_create(_validated(connectors, check=first))
            first = False
            self.summary.locations += len(locations)
            self.summary.evses += len(evses)
            self.summary.connectors += len(connectors)
            rate = (self.summary.locations - already) / max(clock.monotonic() - started, 1e-9)
            done = self.summary.locations - already
            self.progress(
                f"locations {done}/{count} "
                f"({self.summary.evses} EVSEs, {self.summary.connectors} connectors, "
                f"{rate:.0f} locations/s)"
            )

    def _site(
        self, number: int, evses_per_location: int
    ) -> tuple[Location, list[EVSE], list[Connector]]:
        rng = self.rng
        city = rng.choices(CITIES, weights=_CITY_WEIGHTS)[0]
        kind = rng.choices(SITE_KINDS, weights=_KIND_WEIGHTS)[0]
        market = city.market
        owner = self._tariff_owner(market)
        street = rng.choice(market.streets)
        house = rng.randint(1, 240)
        address = f"{house} {street}" if market.number_first else f"{street} {house}"
        # Within ~6 km of the centre (a degree of latitude is ~111 km).
        latitude = _D(f"{city.latitude + rng.uniform(-0.055, 0.055):.6f}")
        longitude = _D(f"{city.longitude + rng.uniform(-0.08, 0.08):.6f}")
        created = self.now - timedelta(days=rng.randint(30, 900), seconds=rng.randrange(86400))
        publish = rng.random() > 0.02
        self.summary.countries.add(market.alpha3)
        self.summary.time_zones.add(city.time_zone)
        location = Location(
            owner=owner,
            ocpi_id=self.location_id(number),
            publish=publish,
            publish_allowed_to=(
                [{"group_id": rng.choice(self._fleet_groups)}]
                if not publish and self._fleet_groups
                else []
            ),
            name=self._site_name(kind, city, street, rng),
            address=address[:45],
            city=city.name,
            postal_code=self._postal_code(market, rng),
            state=city.state,
            country=market.alpha3,
            latitude=latitude,
            longitude=longitude,
            parking_type=rng.choice(kind.parking_types),
            help_phone=market.help_phone,
            operator={"name": owner.name, "website": WEBSITE},
            facilities=sorted(rng.sample(kind.facilities, rng.randint(0, 2))),
            time_zone=city.time_zone,
            opening_times=self._opening_times(kind, rng),
            energy_mix=(
                {"is_green_energy": True, "supplier_name": "Noordzee Stroom"}
                if rng.random() < 0.3
                else None
            ),
            last_updated=created,
        )
        ac_tariff = self.tariff_id(market, rng.choice(kind.ac_tariffs))
        evses: list[EVSE] = []
        connectors: list[Connector] = []
        for index in range(1, evses_per_location + 1):
            model_name = kind.models[0] if index == 1 else rng.choice(kind.models)
            model = CHARGER_MODELS[model_name]
            if model_name == "HPC350":
                tariff_id = self.tariff_id(market, "HPC")
            elif model.dc:
                tariff_id = self.tariff_id(market, "DC-FAST")
            else:
                tariff_id = ac_tariff
            changed = created + (self.now - created) * rng.random()
            status = rng.choices(_STATUS_VALUES, weights=_STATUS_WEIGHTS)[0]
            capabilities = list(model.capabilities)
            if not model.dc and rng.random() < 0.2:
                capabilities.append(Capability.CHARGING_PREFERENCES_CAPABLE)
            evse = EVSE(
                location=location,
                uid=f"{location.ocpi_id}-{index}",
                evse_id=f"{owner.country_code}*{owner.party_id}*E{self.tag}{number + 1:07d}{index}",
                status=status,
                capabilities=[c.value for c in capabilities],
                physical_reference=f"{index:02d}",
                parking_restrictions=[ParkingRestriction.EV_ONLY.value],
                last_updated=changed,
            )
            evses.append(evse)
            for position, (standard, fmt, power_type, volts, amps, watts) in enumerate(
                model.connectors, start=1
            ):
                connectors.append(
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
                        last_updated=changed,
                    )
                )
        # A change of an EVSE or connector is a change of its location for partners.
        location.last_updated = max(location.last_updated, *(e.last_updated for e in evses))
        return location, evses, connectors

    @staticmethod
    def _site_name(kind: SiteKind, city: City, street: str, rng: random.Random) -> str:
        if kind.name == "motorway":
            return f"{city.name} Motorway Services {rng.choice('NESW')}"
        if kind.name == "fast":
            return f"{city.name} Fast Charging {street}"
        if kind.name == "destination":
            venue = rng.choice(("Retail Park", "Hotel", "Business Park", "Sports Centre", "Mall"))
            return f"{venue} {city.name}"
        return f"{street}, {city.name}"

    @staticmethod
    def _postal_code(market: Market, rng: random.Random) -> str:
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        return "".join(
            str(rng.randrange(10)) if char == "9" else rng.choice(letters) if char == "A" else char
            for char in market.postal
        )

    @staticmethod
    def _opening_times(kind: SiteKind, rng: random.Random) -> dict[str, Any]:
        if rng.random() >= kind.open_hours_share:
            return {"twentyfourseven": True}
        opens, closes = rng.choice((("07:00", "22:00"), ("08:00", "20:00"), ("06:00", "23:00")))
        return {
            "twentyfourseven": False,
            "regular_hours": [
                {"weekday": day, "period_begin": opens, "period_end": closes} for day in range(1, 8)
            ],
        }

    # -- finished sessions and their CDRs --

    def sessions_generate(self, count: int) -> None:
        """`count` finished sessions over the last 90 days, each with its CDR, priced by the
        billing engine under the tariff of the connector used."""
        rng = self.rng
        evse_pks = list(
            EVSE.objects.filter(status__in=_CHARGEABLE, location__publish=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        tokens = list(Token.objects.filter(valid=True).select_related("owner").order_by("pk"))
        if not evse_pks or not tokens:
            raise NetworkGeneratorError("No published EVSE to charge at or no valid token.")
        pricer = _Pricer()
        first = True
        started = clock.monotonic()
        for batch in _batches(count, SESSION_BATCH):
            chosen = [rng.choice(evse_pks) for _ in batch]
            loaded = EVSE.objects.select_related("location__owner").prefetch_related("connectors")
            evses = loaded.in_bulk(chosen)
            sessions: list[Session] = []
            periods: list[SessionChargingPeriod] = []
            cdrs: list[CDR] = []
            for evse_pk in chosen:
                evse = evses[evse_pk]
                connector = rng.choice(list(evse.connectors.all()))
                token = rng.choice(tokens)
                session, session_periods, cdr = self._session(evse, connector, token, pricer, rng)
                sessions.append(session)
                periods.extend(session_periods)
                cdrs.append(cdr)
            with transaction.atomic():
                Session.objects.bulk_create(_validated(sessions, check=first))
                for period in periods:
                    period.session_id = period.session.pk
                SessionChargingPeriod.objects.bulk_create(_validated(periods, check=first))
                for cdr in cdrs:
                    cdr.session_id = cdr.session.pk if cdr.session else None
                CDR.objects.bulk_create(_validated(cdrs, check=first))
            first = False
            self.summary.sessions += len(sessions)
            self.summary.cdrs += len(cdrs)
            rate = self.summary.sessions / max(clock.monotonic() - started, 1e-9)
            self.progress(f"sessions and CDRs {self.summary.sessions}/{count} ({rate:.0f}/s)")

    def _session(
        self,
        evse: EVSE,
        connector: Connector,
        token: Token,
        pricer: _Pricer,
        rng: random.Random,
    ) -> tuple[Session, list[SessionChargingPeriod], CDR]:
        location = evse.location
        zone = ZoneInfo(location.time_zone)
        day = self.now.astimezone(zone).date() - timedelta(days=rng.randint(1, HISTORY_DAYS))
        local_start = datetime.combine(
            day, time(rng.randint(6, 22), rng.randrange(60), rng.randrange(60)), tzinfo=zone
        )
        start = local_start.astimezone(UTC)
        power_kw = _D(connector.max_electric_power or 11000) / 1000
        if connector.power_type == PowerType.DC:
            average = min(power_kw, _D(rng.choice((45, 80, 120, 160)))) * _D("0.65")
            need = _D(rng.randint(12_000, 60_000)) / 1000
            parking = rng.choice((0, 0, 60, 300, 900))
        else:
            average = min(power_kw, _D(rng.choice(("7.4", "11", "11", "22")))) * _D("0.9")
            need = _D(rng.randint(4_000, 40_000)) / 1000
            parking = rng.choice((0, 0, 900, 3600, 3 * 3600, 9 * 3600))
        charging = max(int(need / average * 3600), 6 * 60)
        kwh = (average * charging / 3600).quantize(_D("0.001"))
        end = start + timedelta(seconds=charging + parking)
        inputs = [
            ChargingPeriodInput(
                start=start,
                seconds=_D(charging),
                kind=PeriodKind.CHARGING,
                energy=kwh,
                max_power=(average / _D("0.65")).quantize(_D("0.01")),
            )
        ]
        if parking:
            inputs.append(
                ChargingPeriodInput(
                    start=start + timedelta(seconds=charging),
                    seconds=_D(parking),
                    kind=PeriodKind.PARKING,
                )
            )
        tariff_id = connector.tariff_ids[0]
        snapshot, result = pricer.price(location.owner_id, tariff_id, inputs, location.time_zone)
        cdr_token = {
            "country_code": token.owner.country_code,
            "party_id": token.owner.party_id,
            "uid": token.uid,
            "type": token.type,
            "contract_id": token.contract_id,
        }
        auth_method = (
            AuthMethod.COMMAND
            if token.type == TokenType.APP_USER
            else AuthMethod.WHITELIST
            if token.whitelist == WhitelistType.ALWAYS
            else AuthMethod.AUTH_REQUEST
        )
        reference = "" if auth_method == AuthMethod.WHITELIST else _uuid(rng)[:36]
        total, total_taxes = _money_columns(result.total_cost)
        ocpi_periods = _ocpi_periods(result, snapshot["id"])
        meter_id = f"{evse.evse_id.replace('*', '')}-M"[:255]
        session = Session(
            owner=location.owner,
            ocpi_id=_uuid(rng),
            start_date_time=start,
            end_date_time=end,
            kwh=result.total_energy,
            token=token,
            cdr_token=cdr_token,
            emsp=token.owner,
            auth_method=auth_method,
            authorization_reference=reference,
            location=location,
            evse=evse,
            connector=connector,
            meter_id=meter_id,
            currency=result.currency,
            total_cost=total,
            total_cost_taxes=total_taxes,
            status=SessionStatus.COMPLETED,
            last_updated=end,
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
        sub_costs: dict[str, Any] = {}
        for name, category in _SUB_COSTS:
            if category in result.categories:
                sub_costs[name], sub_costs[f"{name}_taxes"] = _money_columns(getattr(result, name))
        cdr = CDR(
            owner=location.owner,
            ocpi_id=_uuid(rng),
            start_date_time=start,
            end_date_time=end,
            session=session,
            ocpi_session_id=session.ocpi_id,
            cdr_token=cdr_token,
            emsp=token.owner,
            auth_method=auth_method,
            authorization_reference=reference,
            cdr_location=_cdr_location(location, evse, connector),
            location=location,
            meter_id=meter_id,
            currency=result.currency,
            tariffs=[snapshot],
            charging_periods=ocpi_periods,
            total_cost=total,
            total_cost_taxes=total_taxes,
            total_energy=result.total_energy,
            total_time=result.total_time,
            total_parking_time=result.total_parking_time or None,
            # CDRs are made a few minutes after the driver unplugs.
            last_updated=end + timedelta(minutes=rng.randint(1, 9)),
            **sub_costs,
        )
        return session, periods, cdr


class _Pricer:
    """Tariff snapshots (as CDRs keep them) and their parsed engine form, read once each."""

    def __init__(self) -> None:
        self._snapshots: dict[tuple[int, str], dict[str, Any]] = {}
        self._parsed: dict[tuple[int, str], Any] = {}
        for tariff in tariffs_for_ocpi(Tariff.objects.active()):
            key = (tariff.owner_id, tariff.ocpi_id.lower())
            snapshot = tariff_snapshot(tariff)
            self._snapshots[key] = snapshot
            self._parsed[key] = tariff_from_ocpi(snapshot, "2.3.0")

    def price(
        self, owner_pk: int, tariff_id: str, inputs: list[ChargingPeriodInput], time_zone: str
    ) -> tuple[dict[str, Any], PricingResult]:
        key = (owner_pk, tariff_id.lower())
        if key not in self._snapshots:
            raise NetworkGeneratorError(
                f"Connector tariff {tariff_id} of owner {owner_pk} is unknown."
            )
        return self._snapshots[key], price_session(self._parsed[key], inputs, time_zone)


_SUB_COSTS = (
    ("total_fixed_cost", CostCategory.FIXED),
    ("total_energy_cost", CostCategory.ENERGY),
    ("total_time_cost", CostCategory.TIME),
    ("total_parking_cost", CostCategory.PARKING),
)


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


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


def _ocpi_periods(result: PricingResult, tariff_id: str) -> list[dict[str, Any]]:
    """The engine's split periods as OCPI ChargingPeriods, volumes rounded as the engine rounds."""
    rounding: dict[str, Callable[[Decimal], Decimal]] = {
        "ENERGY": round_energy,
        "TIME": round_hours,
        "PARKING_TIME": round_hours,
    }
    return [
        {
            "start_date_time": _ocpi_datetime(period.start),
            "dimensions": [
                {"type": kind, "volume": _json_number(rounding.get(kind, _same)(volume))}
                for kind, volume in period.dimensions
            ],
            "tariff_id": tariff_id,
        }
        for period in result.periods
    ]


def _same(value: Decimal) -> Decimal:
    return value


def _cdr_location(location: Location, evse: EVSE, connector: Connector) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "id": location.ocpi_id,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code,
        "country": location.country,
        "coordinates": {
            "latitude": f"{location.latitude:.6f}",
            "longitude": f"{location.longitude:.6f}",
        },
        "evse_uid": evse.uid,
        "evse_id": evse.evse_id,
        "connector_id": connector.ocpi_id,
        "connector_standard": connector.standard,
        "connector_format": connector.format,
        "connector_power_type": connector.power_type,
    }
    if location.state:
        snapshot["state"] = location.state
    return snapshot


def network_generate(
    *,
    locations: int,
    evses_per_location: int = DEFAULT_EVSES_PER_LOCATION,
    tokens: int = 0,
    cdrs: int = 0,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> NetworkSummary:
    """Generate a network into the database (see the module docstring); returns what was made."""
    generator = NetworkGenerator(seed=seed, now=now, progress=progress)
    return generator.run(
        locations=locations, evses_per_location=evses_per_location, tokens=tokens, cdrs=cdrs
    )
