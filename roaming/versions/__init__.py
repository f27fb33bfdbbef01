"""The versions module: which OCPI versions we speak and which endpoints each one has."""
