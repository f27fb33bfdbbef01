"""Schedule the rendering of changed locations ahead of partners' pulls in Celery beat."""

from typing import Any

from django.db import migrations

TASK = "roaming.warm_locations"
NAME = "OCPI locations rendering (every 10 seconds)"


def schedule(apps: Any, schema_editor: Any) -> None:
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = interval_model.objects.get_or_create(every=10, period="seconds")
    task_model.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": every,
            "enabled": True,
            "description": "Renders the JSON of locations changed since the last run (all of "
            "them once a day) into the shared cache, so that partners' pulls do not wait for it.",
        },
    )


def unschedule(apps: Any, schema_editor: Any) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("roaming", "0007_staff_groups_roaming"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
