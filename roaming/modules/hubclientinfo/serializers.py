"""ClientInfo on the wire (2.2.1 and 2.3.0, which have the same fields).

Role and ConnectionStatus are closed enums in both versions: unknown values are refused. 2.2.1 has
no PTP role; 2.3.0 dropped HUB from its Role enum, but a hub may still name itself by it, so it is
accepted there.
"""

from __future__ import annotations

from rest_framework import serializers

from roaming.choices import ConnectionStatus, OcpiVersion, Role
from roaming.models import HubClientInfo
from roaming.modules.common import V2_2_1, V2_3_0, DateTimeField, EnumField, Json, datetime_out


class ClientInfo221Serializer(serializers.Serializer):
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    role = EnumField(sorted(set(Role.values) - {Role.PTP}))
    status = EnumField(ConnectionStatus.values)
    last_updated = DateTimeField()


class ClientInfo230Serializer(ClientInfo221Serializer):
    role = EnumField(Role.values)


CLIENT_INFO_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    V2_2_1: ClientInfo221Serializer,
    V2_3_0: ClientInfo230Serializer,
}


def client_info_to_ocpi(info: HubClientInfo, version: OcpiVersion) -> Json:
    """The ClientInfo as we hold it (expects the party selected); same shape in both versions."""
    return {
        "party_id": info.party.party_id,
        "country_code": info.party.country_code,
        "role": info.role,
        "status": info.status,
        "last_updated": datetime_out(info.last_updated),
    }
