"""Commands: seed_demo."""
