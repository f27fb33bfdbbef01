"""Locations: the charging sites we operate, their EVSEs and connectors."""
