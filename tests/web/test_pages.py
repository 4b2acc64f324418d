"""The server-rendered pages: redirects, security headers, no inline script or style, and
the 2FA QR code drawn for the pending secret without the secret in any URL."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from tests.helpers import signup

PAGES = ["/login", "/signup"]
APP_PAGES = ["/inbox", "/flows", "/settings"]
SCRIPTS = sorted(p.name for p in (Path(__file__).parents[2] / "web" / "static").glob("*.js"))


class Inline(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            src = dict(attrs).get("src")
            self.scripts.append(src or "")
            if not src:
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style= on <{tag}>")
        self.problems += [f"{n}= on <{tag}>" for n in names if n.startswith("on")]


def check_html(body: str) -> list[str]:
    parser = Inline()
    parser.feed(body)
    assert parser.scripts, "a page without its script"
    assert all(s.startswith("/static/") for s in parser.scripts)
    return parser.problems


async def test_signed_out_visitors_go_to_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code in (302, 303) and r.headers["location"] == "/login"
    for path in APP_PAGES:
        r = await client.get(path)
        assert r.status_code in (302, 303), path
        assert r.headers["location"] == "/login"
    r = await client.get("/settings/2fa/qr.svg")
    assert r.status_code == 401


@pytest.mark.parametrize("path", PAGES)
async def test_public_pages_have_csp_and_no_inline_code(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["cache-control"] == "no-store"
    assert check_html(r.text) == []


async def test_signed_in_pages_render_without_inline_code(client: httpx.AsyncClient) -> None:
    owner = await signup(client, workspace="<b>Bold & Co</b>", name="<i>Ivy</i>")
    r = await client.get("/")
    assert r.headers["location"] == "/inbox"
    assert (await client.get("/login")).headers["location"] == "/inbox"
    for path in APP_PAGES:
        r = await client.get(path)
        assert r.status_code == 200, path
        assert "content-security-policy" in r.headers
        assert check_html(r.text) == []
        # Names are escaped by the template, never markup.
        assert "<b>Bold" not in r.text and "&lt;b&gt;Bold &amp; Co&lt;/b&gt;" in r.text
        assert f'content="{owner.csrf_token}"' in r.text
    assert {"api.js", "flows.js", "flow_canvas.js", "settings.js"} <= set(SCRIPTS)
    for name in SCRIPTS:
        js = await client.get(f"/static/{name}")
        assert js.status_code == 200
        assert "innerHTML" not in js.text and "insertAdjacentHTML" not in js.text
        assert not re.search(r"\beval\(|new Function\(", js.text)


async def test_qr_code_is_drawn_for_the_pending_secret_only(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    assert (await client.get("/settings/2fa/qr.svg")).status_code == 404
    setup = (await owner.post("/api/2fa/setup")).json()
    r = await client.get("/settings/2fa/qr.svg")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["cache-control"] == "no-store"
    assert r.text.startswith("<svg") and setup["secret"] not in r.text

    import pyotp

    r = await owner.post("/api/2fa/enable", {"otp": pyotp.TOTP(setup["secret"]).now()})
    assert r.status_code == 204
    assert (await client.get("/settings/2fa/qr.svg")).status_code == 404


async def test_workspace_requiring_2fa_sends_the_inbox_to_security(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    r = await owner.patch("/api/workspace", {"require_2fa": True})
    assert r.status_code == 200, r.text
    r = await client.get("/inbox")
    assert r.status_code == 303 and r.headers["location"] == "/settings?tab=security"
    r = await client.get("/settings")
    assert r.status_code == 200 and "requires two-factor" in r.text
