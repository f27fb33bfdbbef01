"""App configuration of roaming."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RoamingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "roaming"
    verbose_name = "Roaming"

    def ready(self) -> None:
        from roaming.services import parties_sync_ours_on_migrate

        # Our identities come from settings; keep their rows present after every migrate.
        post_migrate.connect(parties_sync_ours_on_migrate, sender=self)
