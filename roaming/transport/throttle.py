"""Request rate limits on the OCPI API, answered with HTTP 429 inside the OCPI envelope.

Authenticated requests count against their partner connection (OCPI_RATE_LIMIT per minute);
requests whose token is missing or unknown count against the client IP
(OCPI_RATE_LIMIT_UNAUTHENTICATED), so guessing tokens is slowed down without one partner's burst
touching another. Counters are fixed one-minute windows in Django's default cache: one atomic
increment per request, no database query. A window boundary can let through up to twice the limit
within sixty seconds; that is the price of not keeping a timestamp per request.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, NoReturn

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from cpms.security import client_ip
from roaming.models import Partner
from roaming.transport.errors import NotAuthenticatedError, OcpiError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class RateLimitedError(OcpiError):
    """Too many requests: HTTP 429 with Retry-After. OCPI has no status of its own for throttling,
    so the envelope carries the generic client error 2000."""

    http_status = 429
    default_message = "Rate limit exceeded"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Rate limit exceeded: retry after {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )


def rate_limit_hit(key: str, *, limit: int) -> int | None:
    """Count one request for `key`; None if it is within `limit` per minute (0: no limit), else
    the seconds until the current window ends."""
    if limit <= 0:
        return None
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    cache_key = f"ocpi-rate:{key}:{window}"
    try:
        count = _increment(cache_key)
    except Exception:
        # An unreachable cache must not take the roaming API down with it: let the request in.
        logger.warning("Rate limit cache unavailable; request for %s not counted", key)
        return None
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


def _increment(cache_key: str) -> int:
    # The key outlives its window a little so a slow request still finds it.
    if cache.add(cache_key, 1, timeout=WINDOW_SECONDS + 5):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=WINDOW_SECONDS + 5)
        return 1


class PartnerRateThrottle(BaseThrottle):
    """DRF throttle of authenticated OCPI requests, counted per partner connection."""

    def __init__(self) -> None:
        self.retry_after: int | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        # DRF throttles after authentication and permissions, so the partner is known here.
        partner: Any = request.user
        key = (
            f"partner:{partner.pk}" if isinstance(partner, Partner) else f"ip:{client_ip(request)}"
        )
        self.retry_after = rate_limit_hit(key, limit=settings.OCPI_RATE_LIMIT)
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


class RateLimitedAPIView(APIView):
    """Base of OcpiView: the per-partner throttle, a per-IP limit on failed authentication, and
    429 answers in the envelope."""

    throttle_classes = [PartnerRateThrottle]

    def perform_authentication(self, request: Request) -> None:
        try:
            super().perform_authentication(request)
        except NotAuthenticatedError:
            retry_after = rate_limit_hit(
                f"ip:{client_ip(request)}", limit=settings.OCPI_RATE_LIMIT_UNAUTHENTICATED
            )
            if retry_after is not None:
                raise RateLimitedError(retry_after) from None
            raise

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        raise RateLimitedError(math.ceil(wait) if wait else WINDOW_SECONDS)
