"""OCPI sessions module: per-version serializers of Session and its charging periods."""
