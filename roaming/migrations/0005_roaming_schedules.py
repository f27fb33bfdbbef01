"""The default Celery beat schedules of roaming, as rows staff can see and change in the admin."""

from django.db import migrations

INCREMENTAL_PULL = "OCPI token pull (incremental, every 5 minutes)"
FULL_PULL = "OCPI token pull (full, nightly)"
SWEEPER = "OCPI outbox sweeper (every 30 seconds)"
PURGE = "OCPI outbox purge (nightly)"


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")

    every_5_minutes, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    every_30_seconds, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    nightly_pull, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    nightly_purge, _ = CrontabSchedule.objects.get_or_create(
        minute="15", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    schedules = [
        (INCREMENTAL_PULL, "roaming.pull_tokens", {"interval": every_5_minutes}, '{"full": false}',
         "Tokens changed since the last successful pull, from every eMSP with a tokens sender."),
        (FULL_PULL, "roaming.pull_tokens", {"crontab": nightly_pull}, '{"full": true}',
         "All tokens of every eMSP; tokens missing from an eMSP's list are set invalid."),
        (SWEEPER, "roaming.sweep_outbox", {"interval": every_30_seconds}, "{}",
         "Re-queues outbox deliveries whose nudge was lost or whose worker died."),
        (PURGE, "roaming.purge_outbox", {"crontab": nightly_purge}, "{}",
         "Deletes delivered outbox rows older than OCPI_PUSH_KEEP_DAYS (CDR rows are kept)."),
    ]
    for name, task, schedule, kwargs, description in schedules:
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "kwargs": kwargs, "description": description, **schedule},
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[INCREMENTAL_PULL, FULL_PULL, SWEEPER, PURGE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("roaming", "0004_push_outbox_and_pulls"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
