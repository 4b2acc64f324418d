from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import pytest

PAYLOADS = Path(__file__).parent / "payloads"


def read_payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def hmac_hex(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def payload() -> Callable[[str], bytes]:
    """The raw bytes of a fixture under ``payloads/``, as the provider would send them."""
    return read_payload


@pytest.fixture
def sign() -> Callable[[str, bytes], str]:
    """Hex HMAC-SHA256 of a body with a key (Meta prefixes it with ``sha256=``)."""
    return hmac_hex
