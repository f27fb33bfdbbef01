"""Routes of the tariffs sender (mounted per version by roaming.versions.registry)."""

from django.urls import path

from roaming.modules.tariffs.views import TariffListView

urlpatterns = [
    path("", TariffListView.as_view(), name="tariffs"),
]
