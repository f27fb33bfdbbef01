"""Field formats of locations and EVSEs are rejected with a message that names the problem."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.locations.factories import EVSEFactory, LocationFactory


def _errors(instance: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        instance.full_clean()  # type: ignore[attr-defined]
    return raised.value.message_dict


def test_factory_location_is_valid(db: None) -> None:
    LocationFactory.build().full_clean()


@pytest.mark.parametrize(
    "evse_id",
    # The dash form is how 2.1.1 peers and their examples write eMI3 ids.
    ["NL*OPN*E0001", "NLOPNE0001", "DE*A1B*E12*34", "NL-OPN-E0001"],
)
def test_emi3_evse_ids_are_accepted(db: None, evse_id: str) -> None:
    EVSEFactory.build(location=LocationFactory.create(), evse_id=evse_id).full_clean()


@pytest.mark.parametrize("evse_id", ["NL*OPN*0001", "nl*opn*E0001", "N*OPN*E1", "NL OPN E0001"])
def test_evse_id_not_in_emi3_format_is_rejected(db: None, evse_id: str) -> None:
    evse = EVSEFactory.build(location=LocationFactory.create(), evse_id=evse_id)

    assert _errors(evse)["evse_id"] == [
        "EVSE id must follow the eMI3 format, for example NL*ABC*E12345."
    ]


def test_unknown_time_zone_is_rejected(db: None) -> None:
    location = LocationFactory.build(time_zone="Europe/Atlantis")

    assert _errors(location)["time_zone"] == [
        "'Europe/Atlantis' is not an IANA time zone such as Europe/Amsterdam."
    ]


@pytest.mark.parametrize("country", ["NL", "nld", "N1D"])
def test_country_not_alpha3_is_rejected(db: None, country: str) -> None:
    location = LocationFactory.build(country=country)

    assert _errors(location)["country"] == [
        "Country must be three upper-case letters (ISO 3166-1 alpha-3)."
    ]


def test_opening_times_without_twentyfourseven_is_rejected(db: None) -> None:
    location = LocationFactory.build(opening_times={"regular_hours": []})

    assert _errors(location)["opening_times"] == ["'twentyfourseven' is a required property"]


def test_opening_times_with_bad_period_names_the_path(db: None) -> None:
    location = LocationFactory.build(
        opening_times={
            "twentyfourseven": False,
            "regular_hours": [{"weekday": 1, "period_begin": "7:00", "period_end": "22:00"}],
        }
    )

    (message,) = _errors(location)["opening_times"]
    assert message.startswith("regular_hours[0].period_begin: '7:00' does not match")


def test_opening_times_with_weekday_out_of_range_names_the_path(db: None) -> None:
    location = LocationFactory.build(
        opening_times={
            "twentyfourseven": False,
            "regular_hours": [{"weekday": 8, "period_begin": "07:00", "period_end": "22:00"}],
        }
    )

    assert _errors(location)["opening_times"] == [
        "regular_hours[0].weekday: 8 is greater than the maximum of 7"
    ]


def test_valid_opening_times_are_accepted(db: None) -> None:
    LocationFactory.build(
        opening_times={
            "twentyfourseven": False,
            "regular_hours": [{"weekday": 7, "period_begin": "07:00", "period_end": "24:00"}],
        }
    ).full_clean()


def test_unknown_facility_is_rejected(db: None) -> None:
    location = LocationFactory.build(facilities=["HOTEL", "SPACEPORT"])

    assert _errors(location)["facilities"] == ["Unknown facilities: SPACEPORT."]
