"""Authenticated encryption of a backup as a stream of AES-256-GCM chunks.

The file: a header (magic, a random salt, a random nonce prefix, a key check), then chunks
of ``4-byte length || AES-GCM(chunk)``. Each chunk's nonce is the prefix, its index and a
"last chunk" flag, and the header is its associated data: chunks cannot be reordered,
dropped, truncated away or moved to another file without failing authentication (the
STREAM construction). The key comes from a passphrase of 32+ characters through HKDF
with the file's salt; the key check tells a wrong key from a damaged file before
anything is decrypted.
"""

from __future__ import annotations

import hmac
import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"INVIARO\x01"
CHUNK = 1024 * 1024
MIN_KEY_CHARS = 32
_SALT, _PREFIX, _CHECK = 16, 7, 16
HEADER_SIZE = len(MAGIC) + _SALT + _PREFIX + _CHECK


class BadBackup(ValueError):
    """The file is not a backup this key opens; the message is one sentence."""


def _keys(passphrase: str, salt: bytes) -> tuple[bytes, bytes]:
    if len(passphrase) < MIN_KEY_CHARS:
        raise BadBackup(f"The backup key must be at least {MIN_KEY_CHARS} characters long.")
    material = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=salt, info=b"inviaro-backup/1"
    ).derive(passphrase.encode())
    return material[:32], material[32 : 32 + _CHECK]


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 2**32:
        raise BadBackup("The backup is too large for one file.")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class EncryptingWriter:
    """A write-only file object: what is written is encrypted to ``out`` in chunks.

    :meth:`close` writes the last chunk; without it the file does not decrypt.
    """

    def __init__(self, out: BinaryIO, passphrase: str) -> None:
        salt, prefix = os.urandom(_SALT), os.urandom(_PREFIX)
        key, check = _keys(passphrase, salt)
        self._out, self._aead, self._prefix = out, AESGCM(key), prefix
        self._header = MAGIC + salt + prefix + check
        self._buffer = bytearray()
        self._index = 0
        self.closed = False
        out.write(self._header)

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # keep at least one byte back for the last chunk
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def flush(self) -> None:
        """Chunks go out as they fill; nothing to flush early."""

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), chunk, self._header)
        self._out.write(len(sealed).to_bytes(4, "big") + sealed)
        self._index += 1


def decrypt(source: BinaryIO, out: BinaryIO, passphrase: str) -> None:
    """Decrypt and authenticate all of ``source`` into ``out``, or raise :class:`BadBackup`
    (a wrong key, a damaged, truncated or foreign file). Callers write to a scratch file
    and use it only once this returns."""
    header = source.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
        raise BadBackup("The file is not an Inviaro backup.")
    salt = header[len(MAGIC) : len(MAGIC) + _SALT]
    prefix = header[len(MAGIC) + _SALT : len(MAGIC) + _SALT + _PREFIX]
    key, check = _keys(passphrase, salt)
    if not hmac.compare_digest(check, header[-_CHECK:]):
        raise BadBackup("The backup key is wrong for this file.")
    aead = AESGCM(key)
    index = 0
    pending = _read_chunk(source)
    while True:
        if pending is None:
            raise BadBackup("The backup file is corrupt: it ends too early.")
        following = _read_chunk(source)
        last = following is None
        try:
            out.write(aead.decrypt(_nonce(prefix, index, last), pending, header))
        except InvalidTag:
            raise BadBackup("The backup file is corrupt: a part fails its check.") from None
        if last:
            return
        pending, index = following, index + 1


def _read_chunk(source: BinaryIO) -> bytes | None:
    size_bytes = source.read(4)
    if not size_bytes:
        return None
    if len(size_bytes) < 4:
        raise BadBackup("The backup file is corrupt: it ends inside a part.")
    size = int.from_bytes(size_bytes, "big")
    if size > CHUNK + 16:
        raise BadBackup("The backup file is corrupt: a part is too large.")
    sealed = source.read(size)
    if len(sealed) < size:
        raise BadBackup("The backup file is corrupt: it ends inside a part.")
    return sealed
