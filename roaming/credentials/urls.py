"""Routes of the credentials module (mounted per version by roaming.versions.registry)."""

from django.urls import path

from roaming.credentials.views import CredentialsView

urlpatterns = [
    path("", CredentialsView.as_view(), name="credentials"),
]
