"""Routes of the sessions sender (mounted per version by roaming.versions.registry)."""

from django.urls import URLPattern, path

from roaming.modules.sessions.views import ChargingPreferencesView, SessionListView

urlpatterns: list[URLPattern] = [
    path("", SessionListView.as_view(), name="sessions"),
    # Charging preferences arrived with 2.2; the view answers 404 under 2.1.1.
    path(
        "<str:session_id>/charging_preferences",
        ChargingPreferencesView.as_view(),
        name="session-charging-preferences",
    ),
]
