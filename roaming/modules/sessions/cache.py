"""Rendered JSON of each session per OCPI version (2.2.1 on), reused until the session changes.

The store is roaming.transport.rendered. A session's text is stamped with its ``last_updated``
(every change of a session, a new charging period included, moves it: ``Session.save``) and
with what it is read with besides its own row: its owner's country code and party id and the
ids of its location, EVSE and connector. OCPI 2.1.1 embeds our live location in a session, which
changes on its own: those texts are rendered every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from roaming.choices import OcpiVersion
from roaming.modules import common
from roaming.modules.sessions import serializers
from roaming.modules.sessions.selectors import sessions_of_page
from roaming.transport import encoding
from roaming.transport.rendered import Rendered, RenderedTexts, Stamp, in_page_order, stamp
from sessions_app.models import Session

# Bump when the JSON of a session changes for a reason the hashed sources do not show.
RENDERING_VERSION = 1
SESSION_TEXTS = RenderedTexts(
    "session",
    rendering_version=RENDERING_VERSION,
    sources=(serializers.__file__, common.__file__),
)
_STAMPED = (
    *("pk", "last_updated", "owner__country_code", "owner__party_id"),
    *("location__ocpi_id", "evse__uid", "connector__ocpi_id"),
)


def rendered_sessions(pks: Sequence[int], version: OcpiVersion) -> list[bytes]:
    """The JSON of these sessions for `version`, in order (one left out if deleted meanwhile)."""
    if version == OcpiVersion.V2_1_1:
        return [_text(session, version) for session in sessions_of_page(pks, version)]
    stamped = Session.objects.filter(pk__in=pks).values_list(*_STAMPED)
    stamps = in_page_order(pks, (stamp(*row) for row in stamped))
    return SESSION_TEXTS.texts(stamps, version, partial(_render, version=version))


def _render(pks: Sequence[int], version: OcpiVersion) -> list[Rendered]:
    return [
        (_stamp_of(session), _text(session, version)) for session in sessions_of_page(pks, version)
    ]


def _stamp_of(session: Session) -> Stamp:
    return stamp(
        session.pk,
        session.last_updated,
        session.owner.country_code,
        session.owner.party_id,
        session.location.ocpi_id,
        session.evse.uid if session.evse_id else None,
        session.connector.ocpi_id if session.connector_id else None,
    )


def _text(session: Session, version: OcpiVersion) -> bytes:
    return encoding.render_bytes(serializers.session_to_ocpi(session, version))
