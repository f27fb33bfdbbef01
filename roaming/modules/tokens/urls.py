"""Routes of the tokens receiver (mounted per version by roaming.versions.registry)."""

from django.urls import path

from roaming.modules.tokens.views import TokenView

urlpatterns = [
    path("<str:country_code>/<str:party_id>/<str:token_uid>", TokenView.as_view(), name="token"),
]
