"""Management commands of sessions_app."""
