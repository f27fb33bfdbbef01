"""Routes of the commands receiver (mounted per version by roaming.versions.registry)."""

from django.urls import path

from roaming.modules.commands.views import CommandView

urlpatterns = [
    path("<str:command>", CommandView.as_view(), name="command"),
]
