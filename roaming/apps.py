"""App configuration of roaming."""

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


class RoamingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "roaming"
    verbose_name = "Roaming"

    def ready(self) -> None:
        from roaming.models import Partner, PartnerEndpoint, Party
        from roaming.services import parties_sync_ours_on_migrate
        from roaming.transport.connections import connections_changed

        # Our identities come from settings; keep their rows present after every migrate.
        post_migrate.connect(parties_sync_ours_on_migrate, sender=self)
        # What the processes remember of connections, routing and receivers
        # (roaming.transport.connections).
        for model in (Partner, PartnerEndpoint, Party):
            post_save.connect(connections_changed, sender=model, dispatch_uid=f"{model}-saved")
            post_delete.connect(connections_changed, sender=model, dispatch_uid=f"{model}-gone")
        m2m_changed.connect(
            connections_changed, sender=Partner.parties.through, dispatch_uid="partner-parties"
        )
