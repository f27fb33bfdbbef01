"""Prepare a development instance: migrate, demo data when empty, an admin login, and the URLs."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from locations.models import Location

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Migrate, load the demo network if the database is empty, and print how to log in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("dev_bootstrap is for development only (DEBUG is off).")
        call_command("migrate", interactive=False, verbosity=0)
        if not Location.objects.exists():
            call_command("seed_demo")
        password = self._admin_password()
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            self.style.SUCCESS("\nCPMS is starting (web, worker and beat); Ctrl-C stops all.\n")
            + f"  Admin:          {base}/admin/\n"
            + f"  Login:          {ADMIN_USERNAME} / {password}\n"
            + f"  OCPI versions:  {base}/ocpi/versions\n"
        )

    def _admin_password(self) -> str:
        """Create the admin login once; its password is kept under var/ so it can be shown again."""
        password_file = settings.VAR_DIR / "admin-password.txt"
        user_model = get_user_model()
        user = user_model.objects.filter(username=ADMIN_USERNAME).first()
        if user is not None and password_file.exists():
            return password_file.read_text().strip()
        password = secrets.token_urlsafe(12)
        if user is None:
            user_model.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        return password
