"""OCPI tokens module: per-version serializers of Token."""
