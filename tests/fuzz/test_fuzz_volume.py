"""The fuzz run as a whole: it must send enough requests to mean something."""

from __future__ import annotations

import pytest

from tests.fuzz.harness import MINIMUM_REQUESTS, Tally
from tests.fuzz.test_fuzz_ours import OUR_OPERATIONS
from tests.fuzz.test_fuzz_spec import SPEC_OPERATIONS

# Each operation is fuzzed with and without a token.
FUZZ_TESTS = 2 * (len(SPEC_OPERATIONS) + len(OUR_OPERATIONS))


def test_whole_fuzz_run_sends_the_minimum_number_of_requests(
    request: pytest.FixtureRequest, tally: Tally
) -> None:
    """Runs last (see conftest); meaningful only when every fuzz test was selected."""
    selected = [item for item in request.session.items if item.get_closest_marker("fuzz")]
    if len(selected) < FUZZ_TESTS:
        pytest.skip(f"{len(selected)} of {FUZZ_TESTS} fuzz tests selected")
    print(tally.summary())
    assert tally.requests >= MINIMUM_REQUESTS, tally.summary()
