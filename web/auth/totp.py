"""TOTP second factor (RFC 6238 via pyotp) and one-time backup codes.

A code is good once: accepting it moves ``operators.totp_last_step`` forward with a
conditional UPDATE and checks the row count, so of two parallel logins with one code the
database lets exactly one through (on Postgres the second UPDATE waits for the first and
then matches nothing; on SQLite writers are serialised). Accepting a step also retires
every earlier step, as RFC 6238 §5.2 recommends.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.model import utcnow
from storage.models import BackupCode, Operator
from web.config import Settings
from web.crypto import decrypt_json, encrypt_json, keyed_hash

ISSUER = "Inviaro"
VALID_WINDOW = 1  # one 30-second step either side, for clock drift
BACKUP_CODES = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_TOTP_RE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    return pyotp.random_base32()


def seal_secret(settings: Settings, secret: str) -> str:
    """The TOTP secret as stored: encrypted, since it is a password equivalent."""
    return encrypt_json(settings.secret_key, secret)


def open_secret(settings: Settings, sealed: str) -> str:
    return str(decrypt_json(settings.secret_key, sealed))


def otpauth_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        moment = now + timedelta(seconds=offset * totp.interval)
        if secrets.compare_digest(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None


async def accept_totp(db: AsyncSession, operator_id: str, secret: str, code: str) -> bool:
    """True if ``code`` is valid now and was never accepted before; burns it (commits)."""
    code = code.strip().replace(" ", "")
    if not _TOTP_RE.match(code):
        return False
    step = _matching_step(secret, code, datetime.now(UTC))
    if step is None:
        return False
    result = await db.execute(
        update(Operator)
        .where(
            Operator.id == operator_id,
            or_(Operator.totp_last_step.is_(None), Operator.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    await db.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _normalize_backup(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def hash_backup_code(settings: Settings, code: str) -> str:
    return keyed_hash(settings.secret_key, "backup-code", _normalize_backup(code))


def new_backup_codes() -> list[str]:
    """Ten codes like ``k3m9p-x2ab7`` (about 49 bits each), shown to the operator once."""
    codes = []
    for _ in range(BACKUP_CODES):
        raw = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


async def use_backup_code(
    db: AsyncSession, settings: Settings, operator_id: str, code: str
) -> bool:
    """True if ``code`` is one of the operator's unused backup codes; marks it used (commits)."""
    if not 8 <= len(code) <= 32:
        return False
    result = await db.execute(
        update(BackupCode)
        .where(
            BackupCode.operator_id == operator_id,
            BackupCode.code_hash == hash_backup_code(settings, code),
            BackupCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    await db.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def check_second_factor(
    db: AsyncSession, settings: Settings, operator: Operator, code: str
) -> bool:
    """A six-digit TOTP code or a backup code, each accepted once."""
    if operator.totp_secret is None:
        return False
    if _TOTP_RE.match(code.strip().replace(" ", "")):
        return await accept_totp(db, operator.id, open_secret(settings, operator.totp_secret), code)
    return await use_backup_code(db, settings, operator.id, code)
