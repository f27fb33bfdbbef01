"""App configuration of sessions_app."""

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class SessionsAppConfig(AppConfig):
    verbose_name = "Sessions"
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"

    def ready(self) -> None:
        from roaming.models import Partner, PartnerEndpoint
        from sessions_app.authorization import tokens_endpoints_forget

        # Token authorization keeps where eMSPs' tokens endpoints are; a change forgets it.
        for model in (Partner, PartnerEndpoint):
            post_save.connect(tokens_endpoints_forget, sender=model, dispatch_uid=f"auth-{model}")
            post_delete.connect(
                tokens_endpoints_forget, sender=model, dispatch_uid=f"auth-del-{model}"
            )
        m2m_changed.connect(
            tokens_endpoints_forget, sender=Partner.parties.through, dispatch_uid="auth-parties"
        )
