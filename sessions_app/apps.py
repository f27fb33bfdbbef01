"""App configuration of sessions_app."""

from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    verbose_name = "Sessions"
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"
