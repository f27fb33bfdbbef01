"""Routes of the charging profiles receiver (mounted per version by roaming.versions.registry)."""

from django.urls import path

from roaming.modules.chargingprofiles.views import ChargingProfileView

urlpatterns = [
    path("<str:session_id>", ChargingProfileView.as_view(), name="chargingprofile"),
]
