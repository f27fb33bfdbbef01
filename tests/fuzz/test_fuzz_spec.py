"""Fuzzing driven by the official OCPI 2.2.1 and 2.3.0 descriptions: every operation a CPO
serves, with the partner's token and without one; no answer is a server error, every answer is an
OCPI envelope."""

from __future__ import annotations

import pytest
from django.core.handlers.wsgi import WSGIHandler
from schemathesis.schemas import APIOperation

from tests.fuzz.harness import Tally, World, fuzz_operation, operation_id
from tests.fuzz.schemas import operations

pytestmark = pytest.mark.fuzz

SPEC_OPERATIONS = operations("spec")


@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "no-token"])
@pytest.mark.parametrize("operation", SPEC_OPERATIONS, ids=operation_id)
def test_official_operation_answers_in_the_envelope(
    operation: APIOperation,
    authenticated: bool,
    world: World,
    wsgi_app: WSGIHandler,
    tally: Tally,
) -> None:
    fuzz_operation(
        operation,
        source="spec",
        world=world,
        app=wsgi_app,
        tally=tally,
        authenticated=authenticated,
    )
