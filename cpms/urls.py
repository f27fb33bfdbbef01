"""Top-level URL routes: the staff admin and the OCPI API."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "CPMS administration"
admin.site.site_title = "CPMS"
admin.site.index_title = "Charge point operations"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("ocpi/", include("roaming.urls")),
]
