"""OCPI commands module, receiver interface: eMSPs ask our chargers to act."""
