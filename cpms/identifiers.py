"""Validators for OCPI identifier formats (types chapter), shared by every domain app."""

from django.core.validators import RegexValidator

country_code_validator = RegexValidator(
    r"^[A-Z]{2}$", "Country code must be two upper-case letters (ISO 3166-1 alpha-2)."
)
country_alpha3_validator = RegexValidator(
    r"^[A-Z]{3}$", "Country must be three upper-case letters (ISO 3166-1 alpha-3)."
)
party_id_validator = RegexValidator(
    r"^[A-Z0-9]{3}$", "Party id must be three upper-case letters or digits."
)
# CiString ids: printable ASCII; OCPI compares them case-insensitively.
ocpi_id_validator = RegexValidator(
    r"^[\x21-\x7E]+$", "Identifier must be printable ASCII without spaces."
)
# eMI3 EVSE id, e.g. NL*ABC*E12345: separators are optional, and older (2.1.1) peers write "-".
evse_id_validator = RegexValidator(
    r"^[A-Z]{2}[*-]?[A-Z0-9]{3}[*-]?E[A-Z0-9][A-Z0-9*-]{0,30}$",
    "EVSE id must follow the eMI3 format, for example NL*ABC*E12345.",
)
currency_validator = RegexValidator(r"^[A-Z]{3}$", "Currency must be an ISO 4217 code, e.g. EUR.")
language_validator = RegexValidator(r"^[a-z]{2}$", "Language must be an ISO 639-1 code, e.g. en.")
