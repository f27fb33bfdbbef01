"""OCPI CDRs module: per-version serializers of charge detail records."""
