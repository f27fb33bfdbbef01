"""Sessions sender: the requesting eMSP's sessions, and (2.2.1+) its drivers' preferences."""

from __future__ import annotations

from typing import Any

from django.db.models.functions import Lower
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import Tariff
from locations.choices import Capability
from roaming.choices import OcpiVersion
from roaming.modules.common import DateTimeField, EnumField, NumberField, compact, optional
from roaming.modules.sessions.cache import rendered_sessions
from roaming.modules.sessions.selectors import session_page_keys
from roaming.transport.encoding import RenderedList
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import InvalidParametersError, NotFoundError
from roaming.transport.pagination import SetState, paginate
from roaming.transport.views import OcpiView
from roaming.visibility import Audience, sessions_visible
from sessions_app.choices import ChargingPreferencesResponse, ProfileType, SessionStatus
from sessions_app.models import Session

# Preferences only make sense while the car may still be charged.
_ONGOING = frozenset({SessionStatus.PENDING, SessionStatus.ACTIVE, SessionStatus.RESERVATION})


class SessionListView(OcpiView):
    """GET: sessions of the requesting party (a hub without from-headers: of all it relays for).

    OCPI calls date_from required here; a pull without it gets every session rather than an
    error, which is what the partner asked for and harms nobody. The page's keys are read first,
    then its sessions (see roaming.modules.sessions.selectors).
    """

    def get(self, request: Request, **kwargs: Any) -> Response:
        audience = Audience.of(self.partner, self.routing)
        visible = session_page_keys(sessions_visible(audience))
        page = paginate(request, visible, reuse_for=SetState(f"sessions:{audience.name}", None))
        texts = rendered_sessions([key.pk for key in page.items], self.ocpi_version)
        return page.response(RenderedList(texts))


class ChargingPreferencesSerializer(serializers.Serializer):
    """The ChargingPreferences object of 2.2.1 and 2.3.0 (which have the same fields)."""

    profile_type = EnumField(ProfileType.values)
    departure_time = optional(DateTimeField())
    energy_need = optional(NumberField(min_value=0))
    discharge_allowed = optional(serializers.BooleanField())


def supported_profile_types(session: Session) -> set[str]:
    """Profiles the session's connector offers: REGULAR, and each PROFILE_* tariff it lists."""
    wanted = [tariff_id.lower() for tariff_id in session.connector.tariff_ids]
    types = (
        Tariff.objects.active()
        .filter(owner_id=session.owner_id)
        .alias(lower_id=Lower("ocpi_id"))
        .filter(lower_id__in=wanted)
        .values_list("type", flat=True)
    )
    profiles = {ProfileType.REGULAR.value}
    profiles.update(t.removeprefix("PROFILE_") for t in types if t.startswith("PROFILE_"))
    return profiles


def charging_preferences_answer(
    session: Session, preferences: dict[str, Any]
) -> ChargingPreferencesResponse:
    """Whether the session's EVSE can take these preferences (the caller checked capability)."""
    if session.status not in _ONGOING:
        return ChargingPreferencesResponse.NOT_POSSIBLE
    if preferences["profile_type"] not in supported_profile_types(session):
        return ChargingPreferencesResponse.PROFILE_TYPE_NOT_SUPPORTED
    return ChargingPreferencesResponse.ACCEPTED


class ChargingPreferencesView(OcpiView):
    """PUT: the driver's charging preferences for a session of the requesting party's driver."""

    def put(self, request: Request, *, session_id: str, **kwargs: Any) -> Response:
        if self.ocpi_version == OcpiVersion.V2_1_1:
            raise NotFoundError("OCPI 2.1.1 has no charging preferences")
        audience = Audience.of(self.partner, self.routing)
        session = (
            sessions_visible(audience)
            .select_related("evse", "connector")
            .alias(lower_id=Lower("ocpi_id"))
            .filter(lower_id=session_id.lower())
            .first()
        )
        if session is None:
            raise NotFoundError(f"Unknown session {session_id}")
        incoming = ChargingPreferencesSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        preferences = compact(dict(incoming.validated_data))
        if Capability.CHARGING_PREFERENCES_CAPABLE not in session.evse.capabilities:
            raise InvalidParametersError(
                f"EVSE {session.evse.uid} does not take charging preferences", http_status=404
            )
        answer = charging_preferences_answer(session, preferences)
        if answer == ChargingPreferencesResponse.ACCEPTED:
            session.charging_preferences = preferences
            # Not part of the Session object partners sync: last_updated stays as it is.
            session.save(update_fields=["charging_preferences"], touch=False)
        return ocpi_response(answer.value)
