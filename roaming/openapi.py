"""The OpenAPI description of our OCPI API, generated from the code by drf-spectacular.

Every OCPI view (an ``OcpiView``) is described by ``OcpiAutoSchema``:

* bodies are the module's per-version serializers (the inbound serializers describe the wire shape
  of each object, so they double as its description), chosen by the version in the path;
* every answer is wrapped in the OCPI envelope, and the HTTP errors the transport layer gives
  (400, 401, 404, 405, 413) are listed with the envelope they carry;
* list endpoints get the pagination parameters and headers, functional modules of 2.2.1 and later
  the routing headers, every operation the request and correlation id headers;
* operation ids and tags come from the path: ``ocpi_2_2_1_tokens_..._put``, tag ``tokens``.

A view says what its operations carry with an ``openapi`` class attribute (``OcpiDescription``).
Views of other modules that declare nothing are described from ``DESCRIPTIONS`` below, or, when
not listed there either, as carrying some JSON in the envelope. The view extension that attaches
the schema to every ``OcpiView`` is registered when this module is imported (roaming.urls does).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import import_module
from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from roaming.choices import ModuleID, OcpiVersion

JSON = "application/json"
_VERSION_IN_PATH = re.compile(r"^/ocpi/(?P<version>[0-9][0-9.]*)/(?P<module>[^/{]+)?")
_UNROUTED = frozenset({ModuleID.VERSIONS, ModuleID.CREDENTIALS, ModuleID.HUB_CLIENT_INFO})

# A module's object per version: a serializer class (or a field) per version number, or a
# function of (version, path) for views whose object depends on the path (the version is None
# for paths outside a version, /ocpi/versions).
Objects = Mapping[str, Any] | Callable[[str | None, str], Any]


class Card(StrEnum):
    """What a body holds: one object, a page of them, or a PATCH's subset of one object's fields."""

    OBJECT = "object"
    LIST = "list"
    PARTIAL = "partial"


@dataclass(frozen=True)
class Operation:
    """One HTTP method of a view: its request body, its answer's data, and extra parameters."""

    request: Card | None = None
    response: Card | None = None
    paginated: bool = False  # offset/limit/date_from/date_to in, X-Total-Count/X-Limit/Link out
    created: bool = False  # answers HTTP 201 when it created the object
    parameters: tuple[OpenApiParameter, ...] = ()
    request_objects: Objects | None = None  # default: the description's objects
    response_objects: Objects | None = None


@dataclass(frozen=True)
class OcpiDescription:
    """What a view's operations carry (the ``openapi`` attribute of an OCPI view)."""

    objects: Objects | None = None
    operations: Mapping[str, Operation] = field(default_factory=dict)


# --- the envelope ---------------------------------------------------------------------------------


_COMPONENTS: dict[str, type] = {}


def component_name(data: Any) -> str:
    """Name of an object's component: its serializer's name without underscores and suffix.

    Serializers of the same name in different modules (the 2.1.1 Connector of a CDR and of a
    location, say) get their module's name in front, so that no component hides another.
    """
    cls = data if isinstance(data, type) else type(data)
    name = cls.__name__.lstrip("_").removesuffix("Serializer")
    candidates = [name, cls.__module__.split(".")[-2].title() + name]
    candidates += [f"{candidates[1]}{n}" for n in range(2, 10)]
    for candidate in candidates:
        if _COMPONENTS.setdefault(candidate, cls) is cls:
            return candidate
    raise ValueError(f"Cannot name the component of {cls}")


@cache
def envelope(
    data: Any = None, *, many: bool = False, name: str = ""
) -> type[serializers.Serializer]:
    """The OCPI envelope (data, status_code, status_message, timestamp) around ``data``.

    ``data`` is a serializer class, a serializer field (copied into the envelope) or None for an
    answer that carries no data (errors, and successes without data).
    """
    data_field: serializers.Field
    if data is None:
        data_field = serializers.JSONField(
            required=False, allow_null=True, help_text="Absent or null; errors may carry details."
        )
        name = name or "OcpiEmptyResponse"
    elif isinstance(data, type) and issubclass(data, serializers.BaseSerializer):
        # Absent or null when the status code is not a success.
        data_field = data(many=many, required=False, allow_null=True)
        name = name or f"{component_name(data)}{'List' if many else ''}Response"
    else:
        data_field = copy.deepcopy(data)
        name = name or "OcpiResponse"
    fields = {
        "data": data_field,
        "status_code": serializers.IntegerField(
            help_text="OCPI status: 1xxx success, 2xxx client error, 3xxx server error, "
            "4xxx hub error (2001 invalid or missing parameters, 2004 unknown token...)."
        ),
        "status_message": serializers.CharField(required=False),
        "timestamp": serializers.DateTimeField(),
    }
    return type(f"{name}Serializer", (serializers.Serializer,), fields)


ANY_DATA = serializers.JSONField(help_text="The module's data (not described further).")
ANY_OBJECT: dict[str, Any] = {"type": "object", "description": "A JSON object."}

_ERRORS = {
    400: "The body is not JSON (or a Content-Length is not a number).",
    401: "Missing or unknown credentials token, or one that may not reach this module yet.",
    403: "The connection may not use this endpoint (for instance not a hub), or speak for the "
    "party named in the routing headers.",
    404: "No such object, or one of another party (or an unknown party in the routing headers).",
    405: "Method not allowed here.",
    413: "The body exceeds the size we accept.",
}


# --- parameters -----------------------------------------------------------------------------------


def _header(name: str, description: str, *, response: bool | list[int] = False) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.HEADER, description=description, response=response
    )


IDS = (
    _header("X-Request-ID", "Unique id of this request; echoed (or made up) on the answer."),
    _header("X-Correlation-ID", "Id shared by the requests of one exchange; echoed on the answer."),
)
ROUTING = (
    _header("OCPI-from-country-code", "Country code of the party the request is from (hubs)."),
    _header("OCPI-from-party-id", "Party id of the party the request is from (hubs)."),
    _header("OCPI-to-country-code", "Country code of our party the request is for."),
    _header("OCPI-to-party-id", "Party id of our party the request is for."),
)
PAGINATION = (
    OpenApiParameter("offset", OpenApiTypes.INT, description="Index of the first object; 0 first."),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Most objects wanted (capped)."),
    OpenApiParameter(
        "date_from", OpenApiTypes.DATETIME, description="Only last_updated at or after this."
    ),
    OpenApiParameter(
        "date_to", OpenApiTypes.DATETIME, description="Only last_updated before this."
    ),
    _header("X-Total-Count", "Number of objects matching the filters.", response=[200]),
    _header("X-Limit", "The largest page we serve.", response=[200]),
    _header(
        "Link", 'URL of the next page as <url>; rel="next"; absent on the last.', response=[200]
    ),
)


# --- the schema -----------------------------------------------------------------------------------


class OcpiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema for OCPI views; reads the view's ``openapi`` description."""

    @property
    def description(self) -> OcpiDescription:
        described = getattr(self.view, "openapi", None)
        return described if isinstance(described, OcpiDescription) else OcpiDescription()

    @property
    def operation(self) -> Operation | None:
        return self.description.operations.get(self.method)

    @property
    def ocpi_version(self) -> str | None:
        match = _VERSION_IN_PATH.match(self.path)
        return match.group("version") if match else None

    @property
    def module(self) -> str:
        match = _VERSION_IN_PATH.match(self.path)
        return (match.group("module") if match else None) or ModuleID.VERSIONS.value

    def _objects(self, objects: Objects | None) -> Any:
        objects = objects if objects is not None else self.description.objects
        version = self.ocpi_version
        if callable(objects):
            return objects(version, self.path)
        if objects is None or version is None:
            return None
        return objects.get(version)

    # Requests.

    def map_parsers(self) -> list[Any]:
        return [JSON]  # our parser reads any Content-Type as JSON; JSON is what is sent

    def get_request_serializer(self) -> Any:
        operation = self.operation
        # A dict maps media types to bodies (a bare schema would be read as such a mapping).
        if operation is None:
            return {JSON: ANY_OBJECT} if self.method in ("PUT", "PATCH", "POST") else None
        if operation.request is None:
            return None
        return self._objects(operation.request_objects) or {JSON: ANY_OBJECT}

    # Responses.

    def get_response_serializers(self) -> Any:
        operation = self.operation
        if operation is None:
            success = OpenApiResponse(envelope(ANY_DATA), description="OCPI envelope.")
            codes = {200: success}
        else:
            codes = {200: self._success(operation)}
            if operation.created:
                codes[201] = OpenApiResponse(
                    envelope(), description="Created (the object was new to us)."
                )
        has_body = self.method in ("PUT", "PATCH", "POST")
        for code, text in _ERRORS.items():
            if code in (400, 413) and not has_body:
                continue
            if code == 403 and self.module == ModuleID.VERSIONS:
                continue
            codes[code] = OpenApiResponse(envelope(), description=text)
        return codes

    def _success(self, operation: Operation) -> OpenApiResponse:
        text = "OCPI envelope; 2xxx status codes (HTTP 200) tell a refused request."
        if operation.response is None:
            return OpenApiResponse(envelope(), description=text)
        data = self._objects(operation.response_objects)
        if data is None:
            return OpenApiResponse(envelope(ANY_DATA), description=text)
        many = operation.response is Card.LIST
        if isinstance(data, serializers.Field) and not isinstance(data, serializers.BaseSerializer):
            return OpenApiResponse(envelope(data, name=self._data_name()), description=text)
        return OpenApiResponse(envelope(data, many=many), description=text)

    def _data_name(self) -> str:
        """<Last fixed path segment>Response, e.g. ChargingPreferencesResponse."""
        fixed = [segment for segment in self.path.split("/") if segment and "{" not in segment]
        return _camel(fixed[-1] if fixed else self.module) + "Response"

    # Parameters, naming, grouping.

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = list(super().get_override_parameters())
        parameters.extend(IDS)
        routed = self.module not in _UNROUTED and self.ocpi_version not in (
            None,
            OcpiVersion.V2_1_1,
        )
        if routed:
            parameters.extend(ROUTING)
        operation = self.operation
        if operation is not None:
            if operation.paginated:
                parameters.extend(PAGINATION)
            parameters.extend(operation.parameters)
        return parameters

    def get_operation_id(self) -> str:
        words = re.findall(r"[A-Za-z0-9]+", self.path)
        return "_".join([*words, self.method.lower()])

    def get_tags(self) -> list[str]:
        return [self.module]

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        return component_name(serializer)


# --- extensions -----------------------------------------------------------------------------------


class OcpiTokenScheme(OpenApiAuthenticationExtension):
    """The credentials token: ``Authorization: Token <base64 of the token>`` (2.1.1: plain)."""

    target_class = "roaming.transport.auth.OcpiTokenAuthentication"
    name = "ocpiToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "'Token ' followed by the credentials token, base64-encoded from "
            "OCPI 2.2 on (sent as is by 2.1.1 partners; both are accepted).",
        }


class OcpiDateTimeField(OpenApiSerializerFieldExtension):
    target_class = "roaming.modules.common.DateTimeField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        return build_basic_type(OpenApiTypes.DATETIME)  # type: ignore[return-value]


class OcpiEnumField(OpenApiSerializerFieldExtension):
    """Closed enums become named components; open ones (2.3.0) mention their known values."""

    target_class = "roaming.modules.common.EnumField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        values = sorted(self.target.values)
        if self.target.open_enum:
            return {
                "type": "string",
                "description": "Open enum; known values: " + ", ".join(values),
            }
        component = ResolvedComponent(
            name=_enum_name(self.target),
            type=ResolvedComponent.SCHEMA,
            object=frozenset(values),
            schema={"type": "string", "enum": values},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


_ENUMS: dict[frozenset[str], str] = {}


def _enum_name(enum_field: Any) -> str:
    """<Object><Field>Enum (TokenWhitelistEnum), one per set of values: a set that differs between
    versions gets the version of its object too (TokenType221Enum)."""
    values = frozenset(enum_field.values)
    if values in _ENUMS:
        return _ENUMS[values]
    # A list's items are named after the list (capabilities, facilities...).
    field_name = enum_field.field_name
    parent = enum_field.parent
    while parent is not None and not isinstance(parent, serializers.BaseSerializer):
        field_name = field_name or parent.field_name
        parent = parent.parent
    owner = component_name(parent) if parent is not None else ""
    version = "".join(re.findall(r"[0-9]+$", owner))
    stem = re.sub(r"[0-9]+$", "", owner) + _camel(field_name or "value")
    taken = set(_ENUMS.values())
    candidates = [stem, f"{stem}{version}", *(f"{stem}{version}_{n}" for n in range(2, 20))]
    name = next(f"{c}Enum" for c in candidates if f"{c}Enum" not in taken)
    _ENUMS[values] = name
    return name


def _camel(name: str) -> str:
    return "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


class OcpiViews(OpenApiViewExtension):
    """Describe every OCPI view with OcpiAutoSchema (and its entry of DESCRIPTIONS, if any)."""

    target_class = "roaming.transport.views.OcpiView"
    match_subclasses = True

    def view_replacement(self) -> type:
        view: type = self.target
        attributes: dict[str, Any] = {
            "schema": OcpiAutoSchema(),
            "__doc__": view.__doc__,
            "__module__": view.__module__,
        }
        if not isinstance(getattr(view, "openapi", None), OcpiDescription):
            described = _described(f"{view.__module__}.{view.__qualname__}")
            if described is not None:
                attributes["openapi"] = described
        return type(view.__name__, (view,), attributes)


# --- descriptions of the views of other modules -------------------------------------------------


def _attribute(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def _per_version(dotted: str) -> Callable[[str | None, str], Any]:
    """A module's {version: serializer} table, imported when the schema is made."""
    return lambda version, path: _attribute(dotted).get(version) if version else None


def _by_version(**by: str) -> Callable[[str | None, str], Any]:
    """One serializer per version, by dotted name (keys: versions with underscores)."""

    def pick(version: str | None, path: str) -> Any:
        dotted = by.get((version or "").replace(".", "_"))
        return _attribute(dotted) if dotted else None

    return pick


class VersionSerializer(serializers.Serializer):
    version = serializers.CharField()
    url = serializers.URLField()


class EndpointSerializer(serializers.Serializer):
    identifier = serializers.CharField(help_text="Module id, e.g. tokens.")
    role = serializers.ChoiceField(
        ["SENDER", "RECEIVER"], required=False, help_text="Absent in 2.1.1."
    )
    url = serializers.URLField()


class VersionDetailsSerializer(serializers.Serializer):
    version = serializers.CharField()
    endpoints = EndpointSerializer(many=True)


_LOCATIONS = "roaming.modules.locations.serializers"


def _location_part(version: str | None, path: str) -> Any:
    """/locations/{location_id}[/{evse_uid}[/{connector_id}]]: a Location, an EVSE, a Connector."""
    if version is None:
        return None
    depth = path.count("{")
    kind = ("Location", "EVSE", "Connector")[max(0, min(depth, 3) - 1)]
    return _attribute(f"{_LOCATIONS}.{kind}{version.replace('.', '')}Serializer")


_CREDENTIALS = _by_version(
    **{
        "2_1_1": "roaming.credentials.serializers.Credentials211Serializer",
        "2_2_1": "roaming.credentials.serializers.Credentials22Serializer",
        "2_3_0": "roaming.credentials.serializers.Credentials22Serializer",
    }
)


@cache
def _charging_preferences_answer() -> serializers.Field:
    values = _attribute("sessions_app.choices.ChargingPreferencesResponse").values
    enum_field: serializers.Field = _attribute("roaming.modules.common.EnumField")(values)
    return enum_field


GET_LIST = {"GET": Operation(response=Card.LIST, paginated=True)}

DESCRIPTIONS: dict[str, Callable[[], OcpiDescription]] = {
    "roaming.versions.views.VersionsView": lambda: OcpiDescription(
        objects=lambda version, path: VersionSerializer,
        operations={"GET": Operation(response=Card.LIST)},
    ),
    "roaming.versions.views.VersionDetailsView": lambda: OcpiDescription(
        objects=lambda version, path: VersionDetailsSerializer,
        operations={"GET": Operation(response=Card.OBJECT)},
    ),
    "roaming.credentials.views.CredentialsView": lambda: OcpiDescription(
        objects=_CREDENTIALS,
        operations={
            "GET": Operation(response=Card.OBJECT),
            "POST": Operation(request=Card.OBJECT, response=Card.OBJECT),
            "PUT": Operation(request=Card.OBJECT, response=Card.OBJECT),
            "DELETE": Operation(),
        },
    ),
    "roaming.modules.locations.views.LocationListView": lambda: OcpiDescription(
        objects=_per_version(f"{_LOCATIONS}.LOCATION_SERIALIZERS"), operations=GET_LIST
    ),
    "roaming.modules.locations.views.LocationObjectView": lambda: OcpiDescription(
        objects=_location_part, operations={"GET": Operation(response=Card.OBJECT)}
    ),
    "roaming.modules.tariffs.views.TariffListView": lambda: OcpiDescription(
        objects=_per_version("roaming.modules.tariffs.serializers.TARIFF_SERIALIZERS"),
        operations=GET_LIST,
    ),
    "roaming.modules.sessions.views.SessionListView": lambda: OcpiDescription(
        objects=_per_version("roaming.modules.sessions.serializers.SESSION_SERIALIZERS"),
        operations=GET_LIST,
    ),
    "roaming.modules.sessions.views.ChargingPreferencesView": lambda: OcpiDescription(
        # Charging preferences arrived with 2.2: the 2.1.1 route answers 404 (left undescribed).
        objects=lambda version, path: (
            None
            if version == OcpiVersion.V2_1_1
            else _attribute("roaming.modules.sessions.views.ChargingPreferencesSerializer")
        ),
        operations={
            "PUT": Operation(
                request=Card.OBJECT,
                response=Card.OBJECT,
                response_objects=lambda version, path: (
                    None if version == OcpiVersion.V2_1_1 else _charging_preferences_answer()
                ),
            )
        },
    ),
    "roaming.modules.cdrs.views.CdrListView": lambda: OcpiDescription(
        objects=_per_version("roaming.modules.cdrs.serializers.CDR_SERIALIZERS"),
        operations=GET_LIST,
    ),
}


def _described(dotted: str) -> OcpiDescription | None:
    make = DESCRIPTIONS.get(dotted)
    return make() if make is not None else None


class OcpiSchemaView(SpectacularJSONAPIView):
    """GET /ocpi/openapi.json: this description, generated on request; public, as it holds no
    secret (every OCPI endpoint it describes still wants a credentials token)."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
