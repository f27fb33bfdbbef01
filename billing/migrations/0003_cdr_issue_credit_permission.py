"""Issuing credit CDRs is its own permission; the Finance group holds it, Operations does not."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAME = "issue_credit_cdr"


def grant_to_finance(apps, schema_editor):
    # Permissions of new Meta options only exist after migrate: create them now.
    app_config = apps.get_app_config("billing")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permission = Permission.objects.get(content_type__app_label="billing", codename=CODENAME)
    finance, _ = Group.objects.get_or_create(name="Finance")
    finance.permissions.add(permission)


def revoke_from_finance(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permission = Permission.objects.filter(
        content_type__app_label="billing", codename=CODENAME
    ).first()
    finance = Group.objects.filter(name="Finance").first()
    if permission is not None and finance is not None:
        finance.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_constraint_messages"),
        ("locations", "0002_staff_groups"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="cdr",
            options={
                "ordering": ["last_updated", "id"],
                "permissions": [("issue_credit_cdr", "Can issue credit CDRs")],
                "verbose_name": "CDR",
            },
        ),
        migrations.RunPython(grant_to_finance, revoke_from_finance),
    ]
