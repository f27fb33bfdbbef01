"""Routes of the hubclientinfo receiver (mounted for 2.2.1 and 2.3.0 by the versions registry)."""

from django.urls import path

from roaming.modules.hubclientinfo.views import ClientInfoView

urlpatterns = [
    path("<str:country_code>/<str:party_id>", ClientInfoView.as_view(), name="client-info"),
]
