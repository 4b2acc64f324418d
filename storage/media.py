"""The hub's own media files: received to disk within a size limit, typed by their bytes,
thumbnailed when they are images, and deleted with what they belong to.

A file lives at ``<media dir>/<workspace id>/<media id>`` (its thumbnail beside it), and its
row in ``media`` says whose it is. The bytes are named by id, not by content: erasing one
contact's file can never take another's. The database is the record: a file whose row is
gone (erasure, retention, a purged workspace) is removed by :func:`sweep_files`; erasure
also removes its files at once (:func:`remove_files`).

The type is never the client's word: :func:`sniff` reads the magic bytes and answers one
of :data:`ALLOWED` or None. Markup (HTML, SVG, XML) and scripts are never allowed, so
nothing stored here can run on the hub's origin even if it were served inline.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.ids import new_id
from hub.model import utcnow
from storage import models as m
from storage.models import table_of

T_MEDIA = table_of(m.Media)
T_CONV = table_of(m.Conversation)

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
THUMBNAIL_BOX = (320, 320)
# Pillow refuses larger images (a decompression bomb: a small file, a huge bitmap).
MAX_IMAGE_PIXELS = 40_000_000
# A file without its row this long is an upload that never finished: swept.
ORPHAN_GRACE = timedelta(hours=1)
# An upload never attached to a stored conversation (a visitor who never wrote) goes then.
UNATTACHED_KEEP = timedelta(days=1)

IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
ALLOWED = IMAGES | frozenset(
    {
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "video/3gpp",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "text/plain",
        "text/csv",
    }
)
# Served inline (shown in the page); everything else is a download.
INLINE_PREFIXES = ("image/", "audio/", "video/")

_OLE = {".doc": "application/msword", ".xls": "application/vnd.ms-excel"}
_OLE[".ppt"] = "application/vnd.ms-powerpoint"
_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_ACTIVE_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".svg", ".xml", ".js", ".mjs", ".css", ".php", ".hta"}
)
# Control characters no text file holds (tab, newlines and form feed are fine).
_TEXT_CONTROLS = bytes(c for c in [*range(32), 127] if c not in (9, 10, 12, 13))
_MARKUP = re.compile(rb"^\s*<", re.DOTALL)
_MP4_AUDIO_BRANDS = (b"M4A ", b"M4B ")
_3GP_BRANDS = (b"3gp", b"3g2")


class TooLarge(Exception):
    """The body passed the size limit; nothing was kept."""


@dataclass(frozen=True, slots=True)
class Received:
    """A body written to a temporary file in the media directory."""

    path: Path
    size: int
    sha256: str


def sniff(head: bytes, name: str = "", whole: Path | None = None) -> str | None:
    """The file's type from its first bytes (``whole``: the file, for zip containers), one
    of :data:`ALLOWED`, or None for anything else (markup and scripts included)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "audio/aac"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _MP4_AUDIO_BRANDS:
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        if brand[:3] in _3GP_BRANDS:
            return "video/3gpp"
        return "video/mp4"
    suffix = Path(name).suffix.lower()
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _OLE.get(suffix)  # legacy Office: the container says no more than that
    if head.startswith(b"PK\x03\x04") and whole is not None:
        return _zipped_office(whole)
    return _text(head, suffix)


def _zipped_office(path: Path) -> str | None:
    """An OOXML or OpenDocument file by its parts; any other zip is refused."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                return declared if declared in ALLOWED else None
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, mime in _OOXML.items():
        if any(n.startswith(prefix) for n in names):
            return mime
    return None


def _text(head: bytes, suffix: str) -> str | None:
    """Plain text or CSV: UTF-8 without NULs that neither opens like markup nor is named
    like a page or a script."""
    if not head or b"\x00" in head or _MARKUP.match(head.removeprefix(b"\xef\xbb\xbf")):
        return None
    if suffix in _ACTIVE_SUFFIXES or head.translate(None, _TEXT_CONTROLS) != head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a character cut at the end of the head is fine
            return None
    return "text/csv" if suffix == ".csv" else "text/plain"


def clean_name(name: str | None) -> str:
    """A file name fit to show and to put in a header: no folders, no control characters,
    at most 200 characters; ``file`` when nothing is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return base[:200] or "file"


class MediaFiles:
    """The media directory: where a workspace's files and thumbnails are."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, workspace_id: str, media_id: str) -> Path:
        return self.root / workspace_id / media_id

    def thumbnail_path(self, relative: str) -> Path:
        return self.root / relative

    async def receive(self, chunks: AsyncIterator[bytes], limit: int) -> Received:
        """Write ``chunks`` to a temporary file, stopping (:class:`TooLarge`, the file gone)
        as soon as they pass ``limit`` bytes."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        path = Path(name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Received(path, size, digest.hexdigest())

    async def keep(
        self, received: Received, workspace_id: str, media_id: str, mime: str
    ) -> str | None:
        """Move a received file into place; make its thumbnail when it is an image.
        Returns the thumbnail's path relative to the root, or None."""
        target = self.path(workspace_id, media_id)
        await asyncio.to_thread(_move, received.path, target)
        if mime not in IMAGES:
            return None
        relative = f"{workspace_id}/{media_id}.thumb.webp"
        made = await asyncio.to_thread(make_thumbnail, target, self.root / relative)
        return relative if made else None

    def remove(self, workspace_id: str, media_ids: Iterable[str]) -> int:
        """Delete these files and their thumbnails; how many files were there."""
        removed = 0
        for media_id in media_ids:
            path = self.path(workspace_id, media_id)
            if path.exists():
                removed += 1
            path.unlink(missing_ok=True)
            (path.parent / f"{media_id}.thumb.webp").unlink(missing_ok=True)
        return removed


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def make_thumbnail(source: Path, target: Path) -> bool:
    """A WebP at most :data:`THUMBNAIL_BOX`; False (no thumbnail) for an image Pillow
    cannot or will not open (broken, or past :data:`MAX_IMAGE_PIXELS`)."""
    import warnings

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as opened:
                opened.draft("RGB", THUMBNAIL_BOX)  # JPEG: decode at a reduced size
                opened.thumbnail(THUMBNAIL_BOX)
                image: Image.Image = opened
                if image.mode not in ("RGB", "RGBA"):
                    image = image.convert("RGBA")
                image.save(target, "WEBP", quality=80)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
        target.unlink(missing_ok=True)
        return False
    return True


async def insert(
    engine: AsyncEngine,
    *,
    media_id: str,
    workspace_id: str,
    conversation_id: str | None,
    contact_id: str | None,
    mime: str,
    name: str,
    received: Received,
    thumbnail: str | None,
    shared: bool,
) -> dict[str, Any]:
    """Record a kept file; returns its row as a dict. ``shared``: the contact may open it."""
    row = {
        "id": media_id,
        "workspace_id": workspace_id,
        "conversation_id": conversation_id,
        "contact_id": contact_id,
        "mime": mime,
        "size": received.size,
        "name": name,
        "sha256": received.sha256,
        "thumbnail": thumbnail,
        "shared": shared,
        "created_at": utcnow(),
    }
    async with engine.begin() as conn:
        await conn.execute(T_MEDIA.insert().values(**row))
    return row


async def stored_bytes(engine: AsyncEngine, workspace_id: str) -> int:
    """How many bytes of files the workspace keeps (what its quota counts)."""
    async with engine.connect() as conn:
        total = await conn.scalar(
            select(func.coalesce(func.sum(T_MEDIA.c.size), 0)).where(
                T_MEDIA.c.workspace_id == workspace_id
            )
        )
    return int(total or 0)


async def over_quota(engine: AsyncEngine, workspace_id: str, adding: int, quota: int) -> bool:
    """Whether ``adding`` more bytes would take the workspace past ``quota`` (0: none).
    Two uploads at once may both pass: the quota bounds growth, not to the byte."""
    return quota > 0 and await stored_bytes(engine, workspace_id) + adding > quota


def new_media_id() -> str:
    return new_id("md_")


async def share(engine: AsyncEngine, media_ids: Iterable[str]) -> None:
    """The contact may open these files now: a message to them carries them."""
    ids = list(media_ids)
    if ids:
        async with engine.begin() as conn:
            await conn.execute(update(T_MEDIA).where(T_MEDIA.c.id.in_(ids)).values(shared=True))


async def find(engine: AsyncEngine, media_ids: Iterable[str]) -> dict[str, Any]:
    """The rows of these ids that exist, by id."""
    ids = list(media_ids)
    if not ids:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(select(T_MEDIA).where(T_MEDIA.c.id.in_(ids)))
        return {r.id: r for r in rows}


async def delete_for_contact(
    conn: AsyncConnection, contact_id: str, conversation_ids: Iterable[str]
) -> tuple[str, ...]:
    """Delete the rows of a contact's files (theirs, and any in their conversations); the
    ids, for the caller to remove the files once the transaction is committed."""
    where = T_MEDIA.c.contact_id == contact_id
    conv_ids = list(conversation_ids)
    if conv_ids:
        where = where | T_MEDIA.c.conversation_id.in_(conv_ids)
    ids = tuple(r.id for r in await conn.execute(select(T_MEDIA.c.id).where(where)))
    if ids:
        await conn.execute(delete(T_MEDIA).where(T_MEDIA.c.id.in_(ids)))
    return ids


def orphaned(now: datetime) -> Any:
    """Rows whose conversation is gone (or never came), past the grace an upload has."""
    has_conversation = exists().where(T_CONV.c.id == T_MEDIA.c.conversation_id)
    return and_(~has_conversation, T_MEDIA.c.created_at < now - UNATTACHED_KEEP)


async def sweep_files(engine: AsyncEngine, files: MediaFiles, now: datetime | None = None) -> int:
    """Remove files on disk whose row is gone (and leftover partial uploads), older than
    :data:`ORPHAN_GRACE` so an upload in flight is never touched; how many went."""
    cutoff = (now or utcnow()).timestamp() - ORPHAN_GRACE.total_seconds()
    candidates = await asyncio.to_thread(_old_files, files.root, cutoff)
    if not candidates:
        return 0
    ids = sorted({p.name.split(".", 1)[0] for p in candidates if not p.name.startswith(".")})
    known: set[str] = set()
    for start in range(0, len(ids), 500):  # a bounded IN list per query
        known.update(await find(engine, ids[start : start + 500]))
    doomed = [p for p in candidates if p.name.split(".", 1)[0] not in known]
    await asyncio.to_thread(_unlink_all, doomed)
    return len([p for p in doomed if ".thumb" not in p.name])


def _old_files(root: Path, cutoff: float) -> list[Path]:
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                found.append(path)
        except OSError:
            continue
    return found


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
