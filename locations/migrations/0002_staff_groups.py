"""Staff groups: Operations edits the network and tariffs, Finance reads money matters, Read-only
looks at everything. Permissions only exist after migrate, so they are created here first."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Business data staff may look at; accounts, sessions and the admin log stay with superusers.
VIEWABLE_APPS = ("roaming", "locations", "sessions_app", "billing", "django_celery_beat")

OPERATIONS_EDITS = {
    "locations": ("location", "evse", "connector"),
    "billing": ("tariff", "tariffelement", "pricecomponent"),
}
# A model's change page shows inlines only to users allowed to view the inline models too.
FINANCE_VIEWS = {
    "sessions_app": ("session", "sessionchargingperiod", "token"),
    "billing": ("cdr", "tariff", "tariffelement", "pricecomponent"),
    "locations": ("location", "evse", "connector"),
    "roaming": ("party",),
}


def _permissions(apps, app_label, codenames):
    Permission = apps.get_model("auth", "Permission")
    found = list(
        Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    )
    missing = set(codenames) - {p.codename for p in found}
    if missing:
        raise RuntimeError(f"Permissions not found in {app_label}: {sorted(missing)}")
    return found


def _view_everything(apps):
    Permission = apps.get_model("auth", "Permission")
    return list(
        Permission.objects.filter(
            content_type__app_label__in=VIEWABLE_APPS, codename__startswith="view_"
        )
    )


def create_staff_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        # Historical app configs have no models module; create_permissions skips those.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")

    operations = set(_view_everything(apps))
    for app_label, models in OPERATIONS_EDITS.items():
        codenames = [f"{verb}_{model}" for model in models for verb in ("add", "change", "view")]
        operations.update(_permissions(apps, app_label, codenames))

    finance = set()
    for app_label, models in FINANCE_VIEWS.items():
        finance.update(_permissions(apps, app_label, [f"view_{model}" for model in models]))

    for name, permissions in (
        ("Operations", operations),
        ("Finance", finance),
        ("Read-only", set(_view_everything(apps))),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)


def delete_staff_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Operations", "Finance", "Read-only"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("roaming", "0002_partner_exchangelog_partnerendpoint_and_more"),
        ("locations", "0001_initial"),
        ("sessions_app", "0001_initial"),
        ("billing", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_staff_groups, delete_staff_groups)]
