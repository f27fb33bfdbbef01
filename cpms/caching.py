"""Facts about the configured cache that decide what a process may keep for others."""

from __future__ import annotations

from django.conf import settings


def cache_is_shared() -> bool:
    """Whether every process reads the same cache (Redis), not memory of its own (no CACHE_URL)."""
    backend: str = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))
