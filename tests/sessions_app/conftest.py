"""Fixtures of the charging tests: a recorder of partner pushes and of CDR creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from sessions_app.models import Session


@dataclass
class Recorded:
    """What the services handed to the push outbox and to billing."""

    sessions: list[tuple[str, str, str]] = field(default_factory=list)  # (ocpi id, status, kWh)
    evses: list[tuple[str, list[str]]] = field(default_factory=list)  # (uid, fields)
    cdrs: list[str] = field(default_factory=list)  # session ocpi ids


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """Pushes and CDR creation recorded instead of done (each has its own tests)."""
    seen = Recorded()

    def session_changed(*, session: Session) -> None:
        seen.sessions.append((session.ocpi_id, session.status, str(session.kwh)))

    def evses_changed(*, evses: Any, fields: Any) -> None:
        seen.evses.extend((evse.uid, list(fields)) for evse in evses)

    def cdr_create(*, session: Session) -> None:
        seen.cdrs.append(session.ocpi_id)

    monkeypatch.setattr("sessions_app.services.push_session_changed", session_changed)
    monkeypatch.setattr("sessions_app.services.push_evses_changed", evses_changed)
    monkeypatch.setattr("billing.cdrs.cdr_create_from_session", cdr_create)
    return seen
