"""OCPI locations module: per-version serializers of Location, EVSE and Connector."""
