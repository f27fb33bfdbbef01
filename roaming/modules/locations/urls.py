"""Routes of the locations sender (mounted per version by roaming.versions.registry)."""

from django.urls import path

from roaming.modules.locations.views import LocationListView, LocationObjectView

urlpatterns = [
    path("", LocationListView.as_view(), name="locations"),
    path("<str:location_id>", LocationObjectView.as_view(), name="location"),
    path("<str:location_id>/<str:evse_uid>", LocationObjectView.as_view(), name="location-evse"),
    path(
        "<str:location_id>/<str:evse_uid>/<str:connector_id>",
        LocationObjectView.as_view(),
        name="location-connector",
    ),
]
