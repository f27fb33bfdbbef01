"""One package per OCPI module: per-version serializers and views."""
