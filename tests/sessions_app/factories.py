"""Factories of partner eMSPs, their tokens, sessions at our connectors and reservations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from roaming.choices import Role
from roaming.models import Party
from sessions_app.choices import (
    AuthMethod,
    ReservationStatus,
    SessionStatus,
    TokenType,
    WhitelistType,
)
from sessions_app.models import Reservation, Session, SessionChargingPeriod, Token
from tests.locations.factories import ConnectorFactory, EVSEFactory

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _party_id(n: int) -> str:
    return f"E{_LETTERS[n // 26 % 26]}{_LETTERS[n % 26]}"


class PartnerEmspFactory(factory.django.DjangoModelFactory[Party]):
    """A partner eMSP with a valid, unique code (NL-EAA, NL-EAB, ...)."""

    class Meta:
        model = Party
        django_get_or_create = ("country_code", "party_id")

    country_code = "NL"
    party_id = factory.Sequence(_party_id)
    name = factory.LazyAttribute(lambda o: f"eMSP {o.country_code}-{o.party_id}")
    roles = factory.LazyFunction(lambda: [Role.EMSP.value])
    is_ours = False


class TokenFactory(factory.django.DjangoModelFactory[Token]):
    class Meta:
        model = Token

    owner = factory.SubFactory(PartnerEmspFactory)
    uid = factory.Sequence(lambda n: f"04A1B2C3{n + 1:06X}")
    type = TokenType.RFID
    # eMAID: <country>-<provider>-C<instance>.
    contract_id = factory.LazyAttributeSequence(
        lambda o, n: f"{o.owner.country_code}-{o.owner.party_id}-C{n + 1:08d}"
    )
    visual_number = factory.Sequence(lambda n: f"CARD {n + 1:06d}")
    issuer = factory.LazyAttribute(lambda o: o.owner.name)
    valid = True
    whitelist = WhitelistType.ALLOWED
    last_updated = factory.LazyFunction(timezone.now)


def cdr_token_of(token: Token) -> dict[str, str]:
    return {
        "country_code": token.owner.country_code,
        "party_id": token.owner.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }


class SessionFactory(factory.django.DjangoModelFactory[Session]):
    """A session at a fresh connector of our first CPO, charged by a partner's token."""

    class Meta:
        model = Session

    connector = factory.SubFactory(ConnectorFactory)
    evse = factory.LazyAttribute(lambda o: o.connector.evse)
    location = factory.LazyAttribute(lambda o: o.evse.location)
    owner = factory.LazyAttribute(lambda o: o.location.owner)
    ocpi_id = factory.Sequence(lambda n: f"SES{n + 1:08d}")
    token = factory.SubFactory(TokenFactory)
    emsp = factory.LazyAttribute(lambda o: o.token.owner)
    cdr_token = factory.LazyAttribute(lambda o: cdr_token_of(o.token))
    start_date_time = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
    kwh = Decimal("12.5000")
    auth_method = AuthMethod.WHITELIST
    currency = "EUR"
    status = SessionStatus.ACTIVE


class SessionChargingPeriodFactory(factory.django.DjangoModelFactory[SessionChargingPeriod]):
    class Meta:
        model = SessionChargingPeriod

    session = factory.SubFactory(SessionFactory)
    start_date_time = factory.LazyAttribute(lambda o: o.session.start_date_time)
    dimensions = factory.LazyFunction(lambda: [{"type": "ENERGY", "volume": 12.5}])


class ReservationFactory(factory.django.DjangoModelFactory[Reservation]):
    class Meta:
        model = Reservation

    token = factory.SubFactory(TokenFactory)
    emsp = factory.LazyAttribute(lambda o: o.token.owner)
    reservation_id = factory.Sequence(lambda n: f"RES{n + 1:06d}")
    evse = factory.SubFactory(EVSEFactory)
    location = factory.LazyAttribute(lambda o: o.evse.location)
    expiry_date = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))
    status = ReservationStatus.RESERVED
