"""Validate emitted objects against the official OCPI OpenAPI schemas (2.2.1 and 2.3.0).

The schema files reference each other relatively (``../../components/schema.yaml#/...``); every
file is registered under its file URI so that jsonschema resolves those references itself.

Two adjustments make the schemas usable as a test oracle:

* YAML 1.1 reads YES/NO/ON/OFF as booleans, which turns the TaxIncluded enum into
  ``[True, False, "N/A"]``; the loader here only knows ``true``/``false`` as booleans.
* The schemas allow any extra property. ``closed=True`` (the default) forbids properties an
  object schema does not list, so a 2.3.0-only field sent to a 2.2.1 peer fails validation.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from roaming.transport.datetimes import parse_datetime

SPEC_DIR = Path("/work/shared/ocpi-spec/openapi")
# RFC 3339 as OCPI uses it, at most 25 characters (milliseconds at most).
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})?$")


class _Yaml12BoolLoader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (YAML 1.2), not yes/no/on/off."""


_Yaml12BoolLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12BoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_ocpi_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATETIME.fullmatch(value) or len(value) > 25:
        return False
    parse_datetime(value)
    return True


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Yaml12BoolLoader)


def _close(node: Any) -> None:
    """Forbid properties an object schema does not list (recursively)."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)


@cache
def _registry(version: str, closed: bool) -> Registry:
    root = SPEC_DIR / version
    resources = []
    for path in sorted(root.glob("**/*.yaml")):
        document = load_yaml(path)
        if closed:
            _close(document)
        resources.append((path.as_uri(), DRAFT202012.create_resource(document)))
    return Registry().with_resources(resources)


def validator(
    version: str, module: str, schema: str, *, closed: bool = True
) -> Draft202012Validator:
    """A validator of one schema, e.g. ``validator("2.3.0", "tariffs", "Tariff")``."""
    uri = (SPEC_DIR / version / "modules" / module / "schema.yaml").as_uri()
    return Draft202012Validator(
        {"$ref": f"{uri}#/components/schemas/{schema}"},
        registry=_registry(version, closed),
        format_checker=FORMATS,
    )


def schema_errors(obj: Any, version: str, module: str, schema: str) -> list[str]:
    """Every way ``obj`` breaks the official schema, as 'path: message' lines (empty if valid)."""
    errors = validator(version, module, schema).iter_errors(_jsonable(obj))
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def enum_values(version: str, module: str, schema: str) -> list[Any]:
    document = load_yaml(SPEC_DIR / version / "modules" / module / "schema.yaml")
    return list(document["components"]["schemas"][schema]["enum"])


def _jsonable(value: Any) -> Any:
    """Decimals become JSON numbers as a renderer would send them."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
