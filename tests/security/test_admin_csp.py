"""The admin's Content-Security-Policy: own scripts only, no framing, forms post to us."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse


def _directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_admin_pages_allow_only_our_own_scripts(client: Client, db: None) -> None:
    response = client.get(reverse("admin:login"))

    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["object-src"] == "'none'"


def test_the_periodic_task_form_may_run_its_inline_script(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:django_celery_beat_periodictask_add"))

    assert response.status_code == 200
    assert "'unsafe-inline'" in _directives(response["Content-Security-Policy"])["script-src"]


def test_ocpi_answers_carry_no_admin_policy(client: Client, db: None) -> None:
    response = client.get("/ocpi/versions")

    assert "Content-Security-Policy" not in response
