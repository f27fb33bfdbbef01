"""OCPI tariffs module: per-version serializers of Tariff, its elements and price components."""
