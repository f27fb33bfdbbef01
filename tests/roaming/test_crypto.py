"""Tokens at rest: ours only as hashes, the partners' encrypted; nothing readable in the table."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from roaming.crypto import (
    TokenDecryptionError,
    token_decrypt,
    token_encrypt,
    token_generate,
    token_hash,
)
from roaming.models import Partner
from tests.roaming.conftest import make_partner

pytestmark = pytest.mark.django_db


def raw_row(partner: Partner) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM roaming_partner WHERE id = %s", [partner.pk])
        return repr(cursor.fetchone())


def test_no_token_is_stored_in_plain_text(emsp) -> None:
    partner, token = make_partner(parties=[emsp])
    row = raw_row(partner)
    assert token not in row
    assert "token-we-use-to-call-them" not in row


def test_our_token_is_kept_as_its_hash_with_a_short_prefix(emsp) -> None:
    partner, token = make_partner(parties=[emsp])
    assert partner.token_hash == token_hash(token)
    assert partner.token_prefix == token[:4] + "…"


def test_their_token_is_recovered_from_its_ciphertext(emsp) -> None:
    partner, _ = make_partner(parties=[emsp])
    assert Partner.objects.get(pk=partner.pk).their_token == "token-we-use-to-call-them"


def test_generated_tokens_fit_ocpi(emsp) -> None:
    token = token_generate()
    assert len(token) <= 64
    assert all(0x21 <= ord(char) <= 0x7E for char in token)
    assert token != token_generate()


def test_the_configured_key_encrypts(settings) -> None:
    key = Fernet.generate_key().decode()
    settings.OCPI_TOKEN_ENCRYPTION_KEY = [key]
    ciphertext = token_encrypt("secret")
    assert Fernet(key).decrypt(ciphertext.encode()) == b"secret"


def test_without_a_configured_key_one_is_derived_from_secret_key(settings) -> None:
    settings.OCPI_TOKEN_ENCRYPTION_KEY = []
    ciphertext = token_encrypt("secret")
    settings.SECRET_KEY = "another-secret-key"
    with pytest.raises(TokenDecryptionError):
        token_decrypt(ciphertext)


def test_an_old_key_still_decrypts_after_rotation(settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.OCPI_TOKEN_ENCRYPTION_KEY = [old]
    ciphertext = token_encrypt("secret")
    settings.OCPI_TOKEN_ENCRYPTION_KEY = [new, old]
    assert token_decrypt(ciphertext) == "secret"


def test_a_malformed_key_is_a_configuration_error(settings) -> None:
    settings.OCPI_TOKEN_ENCRYPTION_KEY = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured):
        token_encrypt("secret")
