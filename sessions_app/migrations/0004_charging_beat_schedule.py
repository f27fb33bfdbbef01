"""Schedule the charging sweeper (command timeouts, expired reservations) in Celery beat."""

from typing import Any

from django.db import migrations

TASK = "sessions_app.sweep_charging"
NAME = "Charging: command timeouts and expired reservations"


def schedule(apps: Any, schema_editor: Any) -> None:
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = interval_model.objects.get_or_create(every=30, period="seconds")
    task_model.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": every,
            "enabled": True,
            "description": "Gives TIMEOUT to commands whose charger did not answer in time "
            "(when the countdown task was lost) and marks past reservations expired.",
        },
    )


def unschedule(apps: Any, schema_editor: Any) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0003_activechargingprofile_command_chargerinstruction_and_more"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
