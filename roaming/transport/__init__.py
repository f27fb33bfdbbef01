"""OCPI transport rules shared by every module and version: envelope, auth, headers, pagination."""
