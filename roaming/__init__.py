"""Roaming: parties, credentials and the OCPI wire (transport, modules, client, push and pull)."""
