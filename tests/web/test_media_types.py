"""What a file is comes from its bytes: the type sniffing, the names and the size limit
(no server needed)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from storage import media

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def zipped(tmp_path: Path, names: dict[str, bytes]) -> Path:
    path = tmp_path / "file.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("head", "name", "mime"),
    [
        (PNG, "a.png", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a.jpg", "image/jpeg"),
        (b"GIF89a\x01\x00", "a.gif", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a.webp", "image/webp"),
        (b"%PDF-1.7\n", "a.pdf", "application/pdf"),
        (b"OggS\x00\x02", "voice.ogg", "audio/ogg"),
        (b"ID3\x04\x00", "song.mp3", "audio/mpeg"),
        (b"\x00\x00\x00\x18ftypmp42", "clip.mp4", "video/mp4"),
        (b"\x00\x00\x00\x18ftypM4A ", "note.m4a", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x01", "clip.webm", "video/webm"),
        (b"Order 1234: two chairs\n", "order.txt", "text/plain"),
        (b"a,b\n1,2\n", "sheet.csv", "text/csv"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "old.doc", "application/msword"),
    ],
)
def test_an_allowed_file_is_known_by_its_bytes(head: bytes, name: str, mime: str) -> None:
    assert media.sniff(head, name) == mime


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"<!doctype html><script>alert(1)</script>", "photo.png"),
        (b"  <html><body>hi</body></html>", "page.txt"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "logo.svg"),
        (b"\xef\xbb\xbf<?xml version='1.0'?><x/>", "data.txt"),
        (b"alert(document.cookie)", "app.js"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe"),
        (b"\x7fELF\x02\x01\x01", "tool"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "payload.msi"),
        (b"", "empty.txt"),
    ],
)
def test_markup_scripts_and_programs_are_refused_whatever_their_name(
    head: bytes, name: str
) -> None:
    assert media.sniff(head, name) is None


def test_an_office_document_is_told_from_any_other_zip(tmp_path: Path) -> None:
    docx = zipped(tmp_path, {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    assert media.sniff(docx.read_bytes()[:4096], "letter.docx", docx) == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    other = zipped(tmp_path, {"index.html": b"<script>alert(1)</script>"})
    assert media.sniff(other.read_bytes()[:4096], "letter.docx", other) is None


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\photo.png", "photo.png"),
        ("bad\r\nname.pdf", "badname.pdf"),
        ("", "file"),
        (None, "file"),
        ("a" * 500 + ".txt", "a" * 200),
    ],
)
def test_a_file_name_keeps_no_folders_or_control_characters(given: str | None, kept: str) -> None:
    assert media.clean_name(given) == kept


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_receiving_stops_at_the_limit_and_keeps_nothing(tmp_path: Path) -> None:
    files = media.MediaFiles(tmp_path)
    with pytest.raises(media.TooLarge):
        await files.receive(chunks(b"x" * 600, b"x" * 600), limit=1000)
    assert list(tmp_path.iterdir()) == []


async def test_a_received_file_has_its_size_and_digest(tmp_path: Path) -> None:
    received = await media.MediaFiles(tmp_path).receive(chunks(b"ab", b"c"), limit=1000)
    assert (received.size, received.sha256) == (
        3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    )


def test_a_thumbnail_fits_its_box(tmp_path: Path) -> None:
    source = tmp_path / "big.png"
    source.write_bytes(png(1200, 600))
    assert media.make_thumbnail(source, tmp_path / "thumb.webp")
    with Image.open(tmp_path / "thumb.webp") as thumb:
        assert thumb.size == (320, 160)


def test_a_decompression_bomb_gets_no_thumbnail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "bomb.png"
    source.write_bytes(png(400, 400))
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 100 * 100)
    assert not media.make_thumbnail(source, tmp_path / "thumb.webp")
    assert not (tmp_path / "thumb.webp").exists()


def test_a_broken_image_gets_no_thumbnail(tmp_path: Path) -> None:
    source = tmp_path / "broken.png"
    source.write_bytes(PNG)
    assert not media.make_thumbnail(source, tmp_path / "thumb.webp")
