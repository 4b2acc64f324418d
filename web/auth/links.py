"""Single-use, expiring account links: invitations and password resets.

The link is ``<INVIARO_PUBLIC_URL>/invite/<token>`` or ``/reset/<token>``; only the
token's SHA-256 is stored (:class:`storage.models.AccountLink`), so the database alone
opens nothing. :func:`find` reads a link without using it (the page that shows its form);
:func:`use` spends it with one conditional UPDATE, so two tabs submitting at once cannot
both succeed. A link of a deleted workspace, a disabled or deleted operator is unusable.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from hub.model import as_utc, utcnow
from storage.models import AccountLink, Operator, Workspace
from web.config import Settings
from web.crypto import random_token, sha256_hex
from web.errors import ApiError

Purpose = Literal["invite", "reset"]
_PATHS: dict[Purpose, str] = {"invite": "/invite/", "reset": "/reset/"}


class LinkUnusable(Exception):
    """The link is unknown, expired, already used or no longer applies; the message is
    the sentence its page shows."""


def refuse_cross_site(request: HTTPConnection) -> None:
    """Links are used from the hub's own pages only: another site must not make a browser
    accept an invitation (signing it in as someone else) or spend a reset link. A request
    that names no origin (curl, an integration) passes."""
    settings = request.app.state.services.settings
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site")
    if (origin is not None and origin != settings.public_origin) or (
        fetch_site is not None and fetch_site not in ("same-origin", "none")
    ):
        raise ApiError(403, "csrf", "Use this link from the hub's own page.")


def url_of(settings: Settings, purpose: Purpose, token: str) -> str:
    return f"{settings.public_url}{_PATHS[purpose]}{token}"


async def issue(
    db: AsyncSession,
    settings: Settings,
    purpose: Purpose,
    *,
    workspace_id: str,
    created_by: str | None,
    email: str | None = None,
    role: str | None = None,
    operator_id: str | None = None,
) -> tuple[AccountLink, str]:
    """A new link (added and flushed; the caller commits) and its URL. Links of the
    workspace that expired over a day ago are dropped on the way."""
    now = utcnow()
    await db.execute(
        delete(AccountLink).where(
            AccountLink.workspace_id == workspace_id,
            AccountLink.expires_at < now - timedelta(days=1),
        )
    )
    ttl = settings.invite_ttl_s if purpose == "invite" else settings.reset_ttl_s
    token = random_token(nbytes=32)
    link = AccountLink(
        workspace_id=workspace_id,
        purpose=purpose,
        token_hash=sha256_hex(token),
        email=email,
        role=role,
        operator_id=operator_id,
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    db.add(link)
    await db.flush()
    return link, url_of(settings, purpose, token)


_EXPIRED = "This link has expired. Ask for a new one."
_USED = "This link was already used. Each link works once; ask for a new one if you need it."
_UNKNOWN = "This link is not valid. Check that it was copied whole, or ask for a new one."


async def find(
    db: AsyncSession, purpose: Purpose, token: str
) -> tuple[AccountLink, Workspace, Operator | None]:
    """The usable link of ``token`` with its workspace (and, for a reset, its operator),
    or :class:`LinkUnusable`."""
    if not token or len(token) > 200:
        raise LinkUnusable(_UNKNOWN)
    row = await db.scalar(
        select(AccountLink).where(
            AccountLink.token_hash == sha256_hex(token), AccountLink.purpose == purpose
        )
    )
    if row is None:
        raise LinkUnusable(_UNKNOWN)
    if row.used_at is not None:
        raise LinkUnusable(_USED)
    if as_utc(row.expires_at) <= utcnow():
        raise LinkUnusable(_EXPIRED)
    workspace = await db.get(Workspace, row.workspace_id)
    if workspace is None or workspace.deleted_at is not None:
        raise LinkUnusable(_UNKNOWN)
    operator = None
    if purpose == "reset":
        operator = await db.get(Operator, row.operator_id) if row.operator_id else None
        if operator is None or operator.disabled or operator.deleted_at is not None:
            raise LinkUnusable(_UNKNOWN)
    return row, workspace, operator


async def use(db: AsyncSession, link: AccountLink) -> None:
    """Spend ``link`` (the caller commits), or :class:`LinkUnusable` when another request
    spent it first or it expired meanwhile."""
    now = utcnow()
    done = await db.execute(
        update(AccountLink)
        .where(
            AccountLink.id == link.id,
            AccountLink.used_at.is_(None),
            AccountLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        raise LinkUnusable(_USED)
