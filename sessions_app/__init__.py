"""Sessions: tokens from partner eMSPs, charging sessions, reservations, commands and chargers."""
