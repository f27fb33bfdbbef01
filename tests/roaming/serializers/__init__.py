"""Tests of the per-version OCPI serializers."""
