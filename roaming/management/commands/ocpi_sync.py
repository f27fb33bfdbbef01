"""Run a pull from partners by hand, with progress on stdout (the schedules do the same)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from roaming.models import Partner, PullRun, PullState
from roaming.pull.tokens import NotATokenSourceError, PullBusyError, token_sources, tokens_pull

MODULES = ("tokens",)


class Command(BaseCommand):
    help = (
        "Pull tokens from partner eMSPs now: changes since the last successful pull, or "
        "everything with --full. Without --partner, from every eMSP with a tokens sender."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partner", help="Name or id of one partner connection.")
        parser.add_argument("--module", choices=MODULES, default="tokens")
        parser.add_argument("--full", action="store_true", help="Pull everything.")

    def handle(self, *args: Any, **options: Any) -> None:
        partners = self._partners(options.get("partner"))
        failed = 0
        for partner in partners:
            failed += not self._pull(partner, full=options["full"])
        if failed:
            raise CommandError(f"{failed} pull(s) failed; see the pull runs in the admin.")

    def _partners(self, wanted: str | None) -> list[Partner]:
        sources = token_sources()
        if wanted is None:
            if not sources:
                raise CommandError("No registered partner has a tokens sender endpoint.")
            return sources
        condition = Q(name__iexact=wanted)
        if wanted.isdigit():
            condition |= Q(pk=int(wanted))
        matches = list(Partner.objects.filter(condition))
        if not matches:
            raise CommandError(f"No partner connection named or numbered {wanted!r}.")
        if len(matches) > 1:
            ids = ", ".join(str(partner.pk) for partner in matches)
            raise CommandError(f"{wanted!r} names several connections ({ids}); give the id.")
        return matches

    def _pull(self, partner: Partner, *, full: bool) -> bool:
        kind = "full" if full else "incremental"
        self.stdout.write(f"{partner.name} (#{partner.pk}): {kind} token pull")
        started = time.monotonic()

        def progress(run: PullRun) -> None:
            elapsed = time.monotonic() - started
            rate = run.received / elapsed if elapsed > 0 else 0.0
            self.stdout.write(
                f"\r  received {run.received:>8}  created {run.created:>8}  "
                f"updated {run.updated:>8}  rejected {run.rejected:>6}  ({rate:,.0f}/s)",
                ending="",
            )
            self.stdout.flush()

        try:
            run = tokens_pull(partner=partner, full=full, trigger="command", progress=progress)
        except (PullBusyError, NotATokenSourceError) as reason:
            self.stdout.write(f"  skipped: {reason}")
            return True
        self.stdout.write("")
        if run.state == PullState.FAILED:
            self.stderr.write(f"  failed: {run.error}")
            return False
        summary = f"  done in {time.monotonic() - started:.1f} s"
        if run.invalidated:
            summary += f"; {run.invalidated} token(s) missing from the list set invalid"
        self.stdout.write(self.style.SUCCESS(summary))
        for rejection in run.rejections[:10]:
            self.stdout.write(
                f"  rejected #{rejection['index']} {rejection['uid']}: {rejection['errors']}"
            )
        return True
