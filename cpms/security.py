"""HTTP security helpers: the client's IP address behind our proxies, and the admin's CSP.

Content-Security-Policy for the staff admin (Django 5.2 has no built-in CSP support): scripts only from our own static files, no plugins, no framing, forms post only to us: an
injected <script> or a hijacked form action in an admin page goes nowhere. Inline style
attributes stay allowed (admin widgets and our charts set them); they cannot run code.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from rest_framework.request import Request


def client_ip(request: HttpRequest | Request) -> str:
    """The client's address: the socket's, or behind TRUSTED_PROXY_COUNT proxies the entry that
    many places from the right of X-Forwarded-For (entries further left are the client's to
    forge). One rule for the OCPI rate limit and the admin login lockout."""
    remote: str = request.META.get("REMOTE_ADDR", "")
    proxies: int = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if proxies <= 0 or not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]


_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# django-celery-beat's periodic task form carries one inline script (its crontab help text).
_INLINE_SCRIPT_VIEWS = ("django_celery_beat_",)
_POLICY_WITH_INLINE_SCRIPT = _POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
)


class AdminContentSecurityPolicyMiddleware:
    """Adds the policy to every page of the admin site that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is None or "admin" not in match.namespaces:
            return response
        if "Content-Security-Policy" not in response:
            inline = (match.url_name or "").startswith(_INLINE_SCRIPT_VIEWS)
            response["Content-Security-Policy"] = _POLICY_WITH_INLINE_SCRIPT if inline else _POLICY
        return response
