"""Credentials tokens at rest: ours are kept as SHA-256 hashes, the partners' encrypted with Fernet.

We only ever verify the tokens we hand out, so a hash suffices; the tokens partners give us must
be sent back to them, so those are encrypted with a key from OCPI_TOKEN_ENCRYPTION_KEY (a list:
the first key encrypts, all decrypt, which allows rotating the key) or, when that is empty, a key
derived from SECRET_KEY. Changing SECRET_KEY without setting the explicit key makes the stored
partner tokens unreadable, hence the explicit setting for production.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TOKEN_BYTES = 32
MASK_VISIBLE = 4


class TokenDecryptionError(Exception):
    """A stored partner token cannot be decrypted with the configured keys."""


def token_generate() -> str:
    """A fresh credentials token: URL-safe printable ASCII, well under OCPI's 64 characters."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """SHA-256 hex digest; enough for our tokens, which are random and never chosen by people."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_mask(token: str) -> str:
    """A short prefix for display, so staff can tell tokens apart without seeing them."""
    return token[:MASK_VISIBLE] + "…"


def token_encrypt(token: str) -> str:
    return _fernet(*_configured_keys()).encrypt(token.encode("utf-8")).decode("ascii")


def token_decrypt(ciphertext: str) -> str:
    try:
        return _fernet(*_configured_keys()).decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise TokenDecryptionError(
            "A stored partner token cannot be decrypted: was OCPI_TOKEN_ENCRYPTION_KEY or "
            "SECRET_KEY changed?"
        ) from None


def _configured_keys() -> tuple[str, ...]:
    keys = tuple(key for key in settings.OCPI_TOKEN_ENCRYPTION_KEY if key)
    return keys or (_derived_key(settings.SECRET_KEY),)


def _derived_key(secret_key: str) -> str:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"cpms.ocpi.partner-token"
    ).derive(secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(derived).decode("ascii")


@lru_cache(maxsize=4)
def _fernet(*keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "OCPI_TOKEN_ENCRYPTION_KEY must hold Fernet keys (32 url-safe base64-encoded bytes), "
            'e.g. from: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from error
