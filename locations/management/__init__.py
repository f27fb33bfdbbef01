"""Management commands of the locations app."""
