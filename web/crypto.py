"""Secrets at rest and the hashes we look credentials up by.

Everything derives from ``INVIARO_SECRET_KEY`` with a purpose label, so one key never serves
two jobs: rotating the key invalidates sessions, tokens' peppered hashes stay SHA-256 of
high-entropy values (no pepper needed), and encrypted channel secrets need the same key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken


class DecryptError(ValueError):
    """Stored ciphertext could not be read with this secret key (rotated or corrupted)."""


@lru_cache(maxsize=32)
def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for one purpose, so a leak of one derived key reveals nothing of the others.

    Kept: every rate-limited request derives its throttle key's key (one HMAC saved)."""
    return hmac.new(secret_key.encode(), b"inviaro:" + purpose.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "fernet")))


def encrypt_json(secret_key: str, value: Any) -> str:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) of a JSON value."""
    return _fernet(secret_key).encrypt(orjson.dumps(value)).decode()


def decrypt_json(secret_key: str, token: str) -> Any:
    try:
        return orjson.loads(_fernet(secret_key).decrypt(token.encode()))
    except (InvalidToken, orjson.JSONDecodeError):
        raise DecryptError("stored secret cannot be decrypted with this key") from None


def sha256_hex(value: str) -> str:
    """Lookup hash for random, high-entropy tokens (sessions, API and ingest tokens)."""
    return hashlib.sha256(value.encode()).hexdigest()


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """HMAC for low-entropy values (backup codes, throttle keys): a stolen database alone
    does not let anyone brute-force them offline."""
    return hmac.digest(derive_key(secret_key, purpose), value.encode(), "sha256").hex()


def random_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode(), b.encode())
