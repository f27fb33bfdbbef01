"""Audit trail: which staff user changed which location, tariff or partner, and how (auditlog).

The models are registered here, from the project, so the domain apps stay free of audit code.
Every create, update and delete through the ORM (admin, services, OCPI) becomes an
auditlog LogEntry with the field-by-field diff; AuditlogMiddleware supplies the logged-in staff
user as the actor (none for partner traffic and background jobs). The entries are browsable,
read-only, in the admin under "Auditlog > Log entries".
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from django.apps import AppConfig, apps

# Bumped on every save and cascaded from children: a diff of it alone says nothing.
_VOLATILE = ["last_updated", "updated_at", "created_at"]

# model label -> extra fields left out of the diffs
AUDITED: dict[str, list[str]] = {
    "locations.Location": [],
    "locations.EVSE": [],
    "locations.Connector": [],
    "billing.Tariff": [],
    "billing.TariffElement": [],
    "billing.PriceComponent": [],
    "roaming.Party": [],
    # Token material is hashed or encrypted already; keep even that out of the trail.
    "roaming.Partner": [
        "token_hash",
        "token_prefix",
        "pending_token_hash",
        "their_token_encrypted",
    ],
}

# Many-to-many fields whose membership changes are logged too.
AUDITED_M2M: dict[str, set[str]] = {"roaming.Partner": {"parties"}}


def not_audited() -> AbstractContextManager[None]:
    """Leave the changes made inside out of the trail: for what chargers report, not people.

    A charger's status reports would otherwise flood the trail (and cost a read of the old row
    per save) while saying nothing about who changed what.
    """
    from auditlog.context import disable_auditlog

    return disable_auditlog()


def audit_register() -> None:
    """Register the audited models with auditlog (idempotent)."""
    from auditlog.registry import auditlog

    for label, excluded in AUDITED.items():
        model = apps.get_model(label)
        if auditlog.contains(model):
            continue
        auditlog.register(
            model,
            exclude_fields=[*_VOLATILE, *excluded],
            m2m_fields=AUDITED_M2M.get(label, set()),
        )


class AuditConfig(AppConfig):
    """Installed as "cpms.audit.AuditConfig" after the domain apps and auditlog."""

    name = "cpms"
    label = "cpms_audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        audit_register()
