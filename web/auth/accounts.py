"""Creating accounts outside HTTP (``inviaro create-operator``), with the API's own rules."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Operator, Workspace
from web import audit
from web.auth import passwords

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def normalize_email(email: str) -> str | None:
    """The email as stored (trimmed, lower case), or None when it is not an address."""
    email = email.strip().lower()
    return email if len(email) <= 320 and EMAIL_RE.match(email) else None


async def create_workspace_with_owner(
    session: AsyncSession, *, workspace: str, name: str, email: str, password: str
) -> tuple[Workspace, Operator]:
    """A new workspace and its owner, added to ``session`` (the caller commits). Raises
    ValueError with one sentence when a field is invalid or the email is taken."""
    normal = normalize_email(email)
    if normal is None:
        raise ValueError(f"{email!r} is not an email address.")
    if not workspace.strip() or not name.strip():
        raise ValueError("The workspace and operator names must not be empty.")
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        raise ValueError(f"The password needs at least {passwords.MIN_LENGTH} characters.")
    if await session.scalar(select(Operator.id).where(Operator.email == normal)):
        raise ValueError(f"An operator with the email {normal} already exists.")
    row = Workspace(name=workspace.strip()[:200], allowed_origins=[])
    session.add(row)
    await session.flush()
    owner = Operator(
        workspace_id=row.id,
        email=normal,
        name=name.strip()[:200],
        password_hash=await passwords.hash_password(password),
        role="owner",
    )
    session.add(owner)
    await session.flush()
    await audit.record(
        session,
        workspace_id=row.id,
        actor_kind="system",
        actor_id=None,
        action="signup",
        target_kind="workspace",
        target_id=row.id,
    )
    return row, owner
