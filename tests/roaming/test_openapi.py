"""The OpenAPI description: served at /ocpi/openapi.json, valid, and covering every OCPI route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema

from roaming.transport.links import OCPI_MOUNT
from roaming.versions.registry import mounted_modules, supported_versions

SCHEMA_PATH = f"{OCPI_MOUNT}openapi.json"
METHODS = ("get", "put", "patch", "post", "delete")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    response = Client().get(SCHEMA_PATH)
    assert response.status_code == 200
    return response.json()


def routed_paths() -> set[str]:
    """Every OCPI route of the URLconf, written as an OpenAPI path ('<str:x>' as '{x}')."""
    found: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            else:
                found.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))

    walk(get_resolver().url_patterns, "")
    return {path for path in found if path.startswith(OCPI_MOUNT) and path != SCHEMA_PATH}


def resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    name = ref.removeprefix("#/components/schemas/")
    return schema["components"]["schemas"][name]


def operation(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return schema["paths"][path][method]


def body_ref(op: dict[str, Any]) -> str:
    return str(op["requestBody"]["content"]["application/json"]["schema"]["$ref"])


def answer_ref(op: dict[str, Any], code: str = "200") -> str:
    return str(op["responses"][code]["content"]["application/json"]["schema"]["$ref"])


def parameter_names(op: dict[str, Any]) -> set[str]:
    return {parameter["name"] for parameter in op.get("parameters", [])}


def test_the_schema_is_served_without_a_token_as_openapi_3(schema) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


def test_the_schema_is_a_valid_openapi_document(schema) -> None:
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema


def test_schema_generation_gives_no_warning_and_no_error(tmp_path) -> None:
    # --fail-on-warn turns any drf-spectacular warning (an unresolvable body, a name clash...)
    # into an error, and --validate checks the result against the OpenAPI 3 schema.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )


def test_the_schema_lists_every_ocpi_path_we_route(schema) -> None:
    assert set(schema["paths"]) == routed_paths()


def test_every_mounted_module_of_every_version_is_described(schema) -> None:
    for version in supported_versions():
        for entry in mounted_modules(version):
            prefix = f"{OCPI_MOUNT}{version}/{entry.route}/"
            assert any(path.startswith(prefix) for path in schema["paths"]), prefix


def test_the_schema_does_not_describe_itself(schema) -> None:
    assert SCHEMA_PATH not in schema["paths"]


def test_operation_ids_are_unique(schema) -> None:
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_every_answer_is_an_ocpi_envelope(schema) -> None:
    for ops in schema["paths"].values():
        for method, op in ops.items():
            assert method in METHODS
            for answer in op["responses"].values():
                envelope = resolve(schema, answer["content"]["application/json"]["schema"]["$ref"])
                assert {"data", "status_code", "status_message", "timestamp"} <= set(
                    envelope["properties"]
                )


def test_every_operation_needs_the_credentials_token(schema) -> None:
    assert schema["components"]["securitySchemes"]["ocpiToken"]["name"] == "Authorization"
    for ops in schema["paths"].values():
        for op in ops.values():
            assert {"ocpiToken": []} in op["security"]


def test_token_bodies_are_the_token_object_of_the_version_in_the_path(schema) -> None:
    for version, name in (("2.1.1", "Token211"), ("2.2.1", "Token221"), ("2.3.0", "Token230")):
        path = f"/ocpi/{version}/tokens/{{country_code}}/{{party_id}}/{{token_uid}}"
        assert body_ref(operation(schema, path, "put")).endswith(f"/{name}")
        assert body_ref(operation(schema, path, "patch")).endswith(f"/Patched{name}")
        data = resolve(schema, answer_ref(operation(schema, path, "get")))["properties"]["data"]
        assert data["allOf"][0]["$ref"].endswith(f"/{name}")


def test_the_2_1_1_token_has_auth_id_and_later_ones_contract_id(schema) -> None:
    assert "auth_id" in resolve(schema, "Token211")["properties"]
    assert "contract_id" in resolve(schema, "Token221")["properties"]


def test_a_token_put_may_answer_201(schema) -> None:
    op = operation(schema, "/ocpi/2.2.1/tokens/{country_code}/{party_id}/{token_uid}", "put")
    assert {"200", "201", "400", "401", "404", "413"} <= set(op["responses"])


def test_client_info_is_described_for_2_2_1_and_2_3_0(schema) -> None:
    for version, name in (("2.2.1", "ClientInfo221"), ("2.3.0", "ClientInfo230")):
        op = operation(
            schema, f"/ocpi/{version}/hubclientinfo/{{country_code}}/{{party_id}}", "put"
        )
        assert body_ref(op).endswith(f"/{name}")


def test_closed_enums_list_their_values_and_open_ones_do_not(schema) -> None:
    whitelist = resolve(schema, "Token230")["properties"]["whitelist"]
    assert "ALWAYS" in resolve(schema, whitelist["$ref"])["enum"]
    token_type = resolve(schema, "Token230")["properties"]["type"]
    assert "enum" not in token_type
    assert "RFID" in token_type["description"]


def test_list_endpoints_document_pagination(schema) -> None:
    op = operation(schema, "/ocpi/2.2.1/locations/", "get")
    assert {"offset", "limit", "date_from", "date_to"} <= parameter_names(op)
    assert {"X-Total-Count", "X-Limit", "Link"} <= set(op["responses"]["200"]["headers"])
    data = resolve(schema, answer_ref(op))["properties"]["data"]
    assert data["type"] == "array"
    assert data["items"]["$ref"].endswith("/Location221")


def test_routing_headers_are_documented_on_functional_modules_from_2_2_1_on(schema) -> None:
    token_path = "/ocpi/{version}/tokens/{{country_code}}/{{party_id}}/{{token_uid}}"
    routed = parameter_names(operation(schema, token_path.format(version="2.2.1"), "put"))
    unrouted = parameter_names(operation(schema, token_path.format(version="2.1.1"), "put"))
    credentials = parameter_names(operation(schema, "/ocpi/2.2.1/credentials/", "post"))
    assert "OCPI-from-party-id" in routed
    assert "OCPI-from-party-id" not in unrouted
    assert "OCPI-from-party-id" not in credentials


def test_every_operation_documents_the_request_and_correlation_ids(schema) -> None:
    for ops in schema["paths"].values():
        for op in ops.values():
            assert {"X-Request-ID", "X-Correlation-ID"} <= parameter_names(op)


def test_versions_and_credentials_describe_their_objects(schema) -> None:
    versions = resolve(schema, answer_ref(operation(schema, "/ocpi/versions/", "get")))
    assert versions["properties"]["data"]["items"]["$ref"].endswith("/Version")
    credentials = operation(schema, "/ocpi/2.1.1/credentials/", "post")
    assert body_ref(credentials).endswith("/Credentials211")


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_charging_profile_reads_and_clears_describe_their_query_parameters(
    schema, version: str
) -> None:
    path = f"/ocpi/{version}/chargingprofiles/{{session_id}}"

    assert {"duration", "response_url"} <= parameter_names(operation(schema, path, "get"))
    assert "response_url" in parameter_names(operation(schema, path, "delete"))
