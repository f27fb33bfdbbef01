"""OCPI charging profiles module (2.2.1+), receiver interface: limits for sessions under way."""
