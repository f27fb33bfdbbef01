"""Wire shapes of the charging profiles module: SetChargingProfile in, responses and results out."""

from __future__ import annotations

from rest_framework import serializers

from roaming.modules.common import DateTimeField, Json, NumberField, compact
from sessions_app.choices import ChargingProfileResponseType, CommandResultType, CommandType
from sessions_app.commands import CommandReceipt
from sessions_app.models import Command

_PROFILE_RESULTS = frozenset(
    {CommandResultType.ACCEPTED, CommandResultType.REJECTED, CommandResultType.UNKNOWN}
)


def _one_decimal(value: float) -> None:
    if round(value, 1) != value:
        raise serializers.ValidationError("At most one digit after the decimal point.")


class ChargingProfilePeriodSerializer(serializers.Serializer):
    start_period = serializers.IntegerField(min_value=0)
    limit = NumberField(validators=[_one_decimal])


class ChargingProfileSerializer(serializers.Serializer):
    start_date_time = DateTimeField(required=False)
    duration = serializers.IntegerField(min_value=0, required=False)
    charging_rate_unit = serializers.ChoiceField(["W", "A"])
    min_charging_rate = NumberField(required=False, validators=[_one_decimal])
    charging_profile_period = ChargingProfilePeriodSerializer(many=True, required=False)

    def validate_charging_profile_period(self, value: list[Json]) -> list[Json]:
        starts = [period["start_period"] for period in value]
        if starts != sorted(set(starts)):
            raise serializers.ValidationError("start_period values must increase.")
        if starts and starts[0] != 0:
            raise serializers.ValidationError("The first period must start at 0.")
        return value


class SetChargingProfileSerializer(serializers.Serializer):
    charging_profile = ChargingProfileSerializer()
    response_url = serializers.URLField(max_length=255)


class GetParametersSerializer(serializers.Serializer):
    duration = serializers.IntegerField(min_value=0)
    response_url = serializers.URLField(max_length=255)


class ClearParametersSerializer(serializers.Serializer):
    response_url = serializers.URLField(max_length=255)


class ChargingProfileResponseSerializer(serializers.Serializer):
    result = serializers.ChoiceField(ChargingProfileResponseType.values)
    timeout = serializers.IntegerField()


def profile_json(validated: Json) -> Json:
    """A validated ChargingProfile as stored and sent to the charger (JSON, no None values)."""
    return dict(compact(validated))


def receipt_to_ocpi(receipt: CommandReceipt) -> Json:
    return {"result": str(receipt.result), "timeout": receipt.timeout}


def profile_result_to_ocpi(command: Command) -> Json:
    """ActiveChargingProfileResult, ChargingProfileResult or ClearProfileResult of a request."""
    result = command.result if command.result in _PROFILE_RESULTS else CommandResultType.REJECTED
    body: Json = {"result": str(result)}
    if (
        command.command_type == CommandType.GET_ACTIVE_CHARGING_PROFILE
        and result == CommandResultType.ACCEPTED
        and command.result_data
        and command.result_data.get("profile")
    ):
        body["profile"] = command.result_data["profile"]
    return body
