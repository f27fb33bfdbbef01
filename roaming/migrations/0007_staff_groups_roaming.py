"""Staff groups and the roaming records added after them (locations 0002 made the groups).

* Operations and Read-only look at every roaming record (outbox rows, partner health, exchange
  log, pull runs, delivery channels and figures) and at the audit trail; Operations also retries
  and replays outbox rows (a permission of its own, so that it needs no right to change partner
  connections).
* Finance looks at the outbox, where it sees whether each CDR reached the driver's eMSP, at the
  partner connections those rows name, and at the audit trail (who changed a tariff, and how).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RESEND = ("roaming", "resend_outboxrow")
AUDIT_VIEW = ("auditlog", "view_logentry")
FINANCE_VIEWS = (("roaming", "view_outboxrow"), ("roaming", "view_partner"), AUDIT_VIEW)
# Roaming models younger than the groups (Operations and Read-only view the older ones already).
NEWER_MODELS = (
    "hubclientinfo",
    "partnerhealth",
    "pushchannel",
    "deliveredobject",
    "outboxrow",
    "pullrun",
    "pushstats",
    "synccursor",
)


def _permission(apps, app_label, codename):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _roaming_views(apps):
    return [_permission(apps, "roaming", f"view_{model}") for model in NEWER_MODELS]


def _grants(apps):
    """Group name -> the permissions this migration adds to it."""
    audit = _permission(apps, *AUDIT_VIEW)
    return {
        "Operations": [*_roaming_views(apps), audit, _permission(apps, *RESEND)],
        "Read-only": [*_roaming_views(apps), audit],
        "Finance": [_permission(apps, *name) for name in FINANCE_VIEWS],
    }


def grant(apps, schema_editor):
    for label in ("roaming", "auditlog"):
        # Permissions of models and Meta options added since the last migrate do not exist yet.
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for name, permissions in _grants(apps).items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name, permissions in _grants(apps).items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("roaming", "0006_outbox_lean_indexes"),
        ("locations", "0002_staff_groups"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="outboxrow",
            options={
                "ordering": ["-id"],
                "permissions": [("resend_outboxrow", "Can retry and replay outbox rows")],
                "verbose_name": "outbox row",
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
