"""Every official example object goes into the DB and comes back out unchanged and schema-valid."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from roaming.modules.common import error_paths
from tests.roaming.serializers.examples import (
    KINDS,
    SPEC_DIR,
    VERSIONS,
    Example,
    examples,
    fix_for,
    kind_of,
)
from tests.roaming.serializers.openapi import schema_errors
from tests.roaming.serializers.semantic import differences

EXAMPLES = list(examples(tuple(KINDS)))


def _round_trip(example: Example, django_assert_num_queries: Any) -> tuple[dict, dict]:
    kind = KINDS[example.kind]
    fix = fix_for(example)
    stored = kind.store(fix.given(example.load()), example.version)
    reloaded = kind.reload(stored)
    with django_assert_num_queries(0):
        written = kind.dump(reloaded, example.version)
    return fix.expected(example.load()), as_json(written)


def as_json(obj: Any) -> Any:
    """What a JSON renderer would send: Decimals become numbers, anything else non-JSON fails."""

    def number(value: Any) -> float:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(f"{value!r} is not JSON")

    return json.loads(json.dumps(obj, default=number))


@pytest.mark.django_db
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_example_survives_a_trip_through_the_database(example, django_assert_num_queries):
    expected, written = _round_trip(example, django_assert_num_queries)

    assert differences(expected, written) == []


@pytest.mark.django_db
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_output_of_example_meets_the_official_schema(example, django_assert_num_queries):
    kind = KINDS[example.kind]
    fix = fix_for(example)
    stored = kind.store(fix.given(example.load()), example.version)

    written = kind.dump(kind.reload(stored), example.version)

    assert schema_errors(written, example.version, kind.module, kind.schema) == []


def _full_objects(version: str) -> list[tuple[str, str]]:
    """(file, kind) of every example holding a whole object of a kind we serialize."""
    found = []
    for path in sorted((SPEC_DIR / version / "examples").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "status_code" in document:
            document = document["data"]
        candidates = document if isinstance(document, list) else [document]
        for name, kind in KINDS.items():
            if any(isinstance(c, dict) and kind.required <= c.keys() for c in candidates):
                found.append((path.name, name))
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_full_example_object_is_covered(version):
    covered = {(e.file, e.kind) for e in EXAMPLES if e.version == version}

    missing = [item for item in _full_objects(version) if item not in covered]

    assert missing == []


@pytest.mark.parametrize("version", VERSIONS)
def test_no_example_file_is_taken_for_a_kind_it_does_not_hold(version):
    full = set(_full_objects(version))

    wrong = [(e.file, e.kind) for e in EXAMPLES if e.version == version]

    assert [item for item in wrong if item not in full] == []


@pytest.mark.django_db
@pytest.mark.parametrize("version", VERSIONS)
def test_tariff_put_example_is_rejected_for_its_missing_last_updated(version):
    if "tariff" not in KINDS:
        pytest.skip("tariffs not wired yet")
    example = Example(version, "tariff_put_example.json", "tariff")

    with pytest.raises(ValidationError) as caught:
        KINDS["tariff"].store(example.load(), version)

    assert any(line.startswith("last_updated:") for line in error_paths(caught.value.detail))


def test_evse_snippet_of_put_example_is_not_a_location():
    assert kind_of("location_put_example_add_evse.json") is None


@pytest.mark.django_db
def test_cdr_example_230_is_rejected_for_its_tariff_without_tax_included():
    example = Example("2.3.0", "cdr_example.json", "cdr")

    with pytest.raises(ValidationError) as caught:
        KINDS["cdr"].store(example.load(), "2.3.0")

    assert error_paths(caught.value.detail) == ["tariffs[0].tax_included: This field is required."]


def _snippets() -> list[tuple[str, str]]:
    """Examples of a Location's opening hours and energy mix (fragments, not whole objects)."""
    names = ("location_hours_", "location_regularhours_", "location_energymix_")
    return [
        (version, path.name)
        for version in VERSIONS
        for path in sorted((SPEC_DIR / version / "examples").glob("*.json"))
        if path.name.startswith(names)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("version", "name"), _snippets(), ids="/".join)
def test_location_fragment_example_survives_a_trip_through_the_database(version, name):
    fragment = json.loads((SPEC_DIR / version / "examples" / name).read_text(encoding="utf-8"))
    if "twentyfourseven" in fragment:
        fragment = {"opening_times": fragment}
    example = Example(version, "location_example.json", "location")
    kind = KINDS["location"]
    given = fix_for(example).given({**example.load(), **fragment})

    written = kind.dump(kind.reload(kind.store(given, version)), version)

    assert differences(fragment, {key: as_json(written)[key] for key in fragment}) == []
