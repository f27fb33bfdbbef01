"""Per-version wire shapes of the commands module: request bodies in, responses and results out."""

from __future__ import annotations

from rest_framework import serializers

from roaming.choices import OcpiVersion
from roaming.modules.common import V2_1_1, V2_2_1, V2_3_0, DateTimeField, Json, string
from roaming.modules.tokens.serializers import TOKEN_SERIALIZERS
from sessions_app.choices import CommandResponseType, CommandResultType, CommandType
from sessions_app.commands import CommandReceipt
from sessions_app.models import Command

# 2.1.1 has no CANCEL_RESERVATION, and its results are its response types (no separate result).
COMMANDS: dict[str, frozenset[str]] = {
    V2_1_1: frozenset(
        {
            CommandType.START_SESSION,
            CommandType.STOP_SESSION,
            CommandType.RESERVE_NOW,
            CommandType.UNLOCK_CONNECTOR,
        }
    ),
    V2_2_1: frozenset(
        {
            CommandType.START_SESSION,
            CommandType.STOP_SESSION,
            CommandType.RESERVE_NOW,
            CommandType.CANCEL_RESERVATION,
            CommandType.UNLOCK_CONNECTOR,
        }
    ),
}
COMMANDS[V2_3_0] = COMMANDS[V2_2_1]

_RESULTS_211 = frozenset(
    {
        CommandResultType.ACCEPTED,
        CommandResultType.REJECTED,
        CommandResultType.TIMEOUT,
        CommandResultType.NOT_SUPPORTED,
    }
)


class _Command(serializers.Serializer):
    response_url = serializers.URLField(max_length=255)


class StartSession221Serializer(_Command):
    token = TOKEN_SERIALIZERS[V2_2_1]()
    location_id = serializers.CharField(max_length=36)
    evse_uid = string(36, required=False)
    connector_id = string(36, required=False)
    authorization_reference = string(36, required=False)


class StartSession230Serializer(StartSession221Serializer):
    token = TOKEN_SERIALIZERS[V2_3_0]()


class StartSession211Serializer(_Command):
    token = TOKEN_SERIALIZERS[V2_1_1]()
    location_id = serializers.CharField(max_length=39)
    evse_uid = string(39, required=False)


class StopSessionSerializer(_Command):
    session_id = serializers.CharField(max_length=36)


class ReserveNow221Serializer(_Command):
    token = TOKEN_SERIALIZERS[V2_2_1]()
    expiry_date = DateTimeField()
    reservation_id = serializers.CharField(max_length=36)
    location_id = serializers.CharField(max_length=36)
    evse_uid = string(36, required=False)
    authorization_reference = string(36, required=False)


class ReserveNow230Serializer(ReserveNow221Serializer):
    token = TOKEN_SERIALIZERS[V2_3_0]()


class ReserveNow211Serializer(_Command):
    token = TOKEN_SERIALIZERS[V2_1_1]()
    expiry_date = DateTimeField()
    reservation_id = serializers.IntegerField(min_value=0)
    location_id = serializers.CharField(max_length=39)
    evse_uid = string(39, required=False)


class CancelReservationSerializer(_Command):
    reservation_id = serializers.CharField(max_length=36)


class UnlockConnectorSerializer(_Command):
    location_id = serializers.CharField(max_length=36)
    evse_uid = serializers.CharField(max_length=36)
    connector_id = serializers.CharField(max_length=36)


class UnlockConnector211Serializer(UnlockConnectorSerializer):
    location_id = serializers.CharField(max_length=39)
    evse_uid = serializers.CharField(max_length=39)


REQUEST_SERIALIZERS: dict[str, dict[str, type[serializers.Serializer]]] = {
    CommandType.START_SESSION: {
        V2_1_1: StartSession211Serializer,
        V2_2_1: StartSession221Serializer,
        V2_3_0: StartSession230Serializer,
    },
    CommandType.STOP_SESSION: {
        V2_1_1: StopSessionSerializer,
        V2_2_1: StopSessionSerializer,
        V2_3_0: StopSessionSerializer,
    },
    CommandType.RESERVE_NOW: {
        V2_1_1: ReserveNow211Serializer,
        V2_2_1: ReserveNow221Serializer,
        V2_3_0: ReserveNow230Serializer,
    },
    CommandType.CANCEL_RESERVATION: {
        V2_2_1: CancelReservationSerializer,
        V2_3_0: CancelReservationSerializer,
    },
    CommandType.UNLOCK_CONNECTOR: {
        V2_1_1: UnlockConnector211Serializer,
        V2_2_1: UnlockConnectorSerializer,
        V2_3_0: UnlockConnectorSerializer,
    },
}


class CommandResponseSerializer(serializers.Serializer):
    """The synchronous answer (2.2.1+; 2.1.1 has no timeout)."""

    result = serializers.ChoiceField(CommandResponseType.values)
    timeout = serializers.IntegerField()
    message = serializers.ListField(child=serializers.DictField(), required=False)


def receipt_to_ocpi(receipt: CommandReceipt, version: OcpiVersion | str) -> Json:
    """The CommandResponse of a version."""
    body: Json = {"result": str(receipt.result)}
    if version != V2_1_1:  # 2.1.1's CommandResponse is the result alone
        body["timeout"] = receipt.timeout
        if receipt.message:
            body["message"] = display_texts(receipt.message)
    return body


def command_result_to_ocpi(command: Command) -> Json:
    """The CommandResult POSTed to the response_url (2.1.1: a CommandResponse)."""
    result = command.result
    if command.version == V2_1_1 and result not in _RESULTS_211:
        result = CommandResultType.REJECTED  # occupied, inoperative, failed... as 2.1.1 can say
    return {"result": str(result)}


def display_texts(text: str) -> list[Json]:
    return [{"language": "en", "text": text[:512]}]
