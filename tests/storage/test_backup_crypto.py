"""The backup cipher: what is written decrypts only whole, unchanged and with its key."""

from __future__ import annotations

import io
import os

import pytest

from storage import backup_crypto
from storage.backup_crypto import BadBackup, EncryptingWriter, decrypt

KEY = "k" * 40


def seal(data: bytes, key: str = KEY) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key)
    writer.write(data)
    writer.close()
    return out.getvalue()


def unseal(sealed: bytes, key: str = KEY) -> bytes:
    out = io.BytesIO()
    decrypt(io.BytesIO(sealed), out, key)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, backup_crypto.CHUNK, 2 * backup_crypto.CHUNK + 5])
def test_what_is_sealed_unseals_unchanged(size: int) -> None:
    data = os.urandom(size)
    assert unseal(seal(data)) == data


def test_the_same_data_seals_differently_each_time() -> None:
    assert seal(b"same") != seal(b"same")


def test_a_wrong_key_is_named() -> None:
    with pytest.raises(BadBackup, match="key is wrong"):
        unseal(seal(b"secret"), "x" * 40)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(BadBackup, match="at least 32"):
        seal(b"data", "short")


def test_a_flipped_byte_is_refused() -> None:
    sealed = bytearray(seal(b"payload" * 100))
    sealed[-20] ^= 1
    with pytest.raises(BadBackup, match="corrupt"):
        unseal(bytes(sealed))


def test_a_file_cut_at_a_chunk_boundary_is_refused() -> None:
    sealed = seal(os.urandom(2 * backup_crypto.CHUNK + 5))
    first_chunk_end = backup_crypto.HEADER_SIZE + 4 + backup_crypto.CHUNK + 16
    with pytest.raises(BadBackup, match="corrupt"):
        unseal(sealed[:first_chunk_end])


def test_something_else_is_not_a_backup() -> None:
    with pytest.raises(BadBackup, match="not an Inviaro backup"):
        unseal(b"PK\x03\x04 a zip file, say")
