"""Pulling partners' objects on a schedule: tokens from every eMSP with a tokens sender endpoint."""
