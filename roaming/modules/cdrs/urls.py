"""Routes of the CDRs sender (mounted per version by roaming.versions.registry)."""

from django.urls import path

from roaming.modules.cdrs.views import CdrListView

urlpatterns = [
    path("", CdrListView.as_view(), name="cdrs"),
]
