"""Browser fixtures: headless Chromium (Playwright, async API), a third-party host page on
its own origin, and a signed-up workspace with a widget channel on the live hub.

The host page server listens on 127.0.0.1; the same server reached as ``localhost`` is a
different origin, which is how tests get a site that is *not* allowed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import websockets
from playwright.async_api import expect

from tests.conftest import LiveServer, unavailable
from tests.helpers import Account, new_client, signup
from web.auth.sessions import cookie_name

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 10_000  # failure guard for every browser wait; never a timing assertion
expect.set_options(timeout=WAIT_MS)

# Rules a careless or hostile site might ship; none of them may reach into the widget.
HOSTILE_CSS = """
* { all: unset; font-size: 40px; }
head, style, script { display: none !important; }
button { display: none !important; }
div { display: none !important; background: red !important; }
ol, li, p, textarea, form { color: lime !important; font-size: 60px !important; }
"""


def host_page(hub: str, key: str | None, *, css: str = HOSTILE_CSS, extra: str = "") -> str:
    key_attr = f' data-inviaro-key="{key}"' if key is not None else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Some shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>{css}</style></head>
<body>
<h1 id="headline">Welcome to some shop</h1>
<a id="first-link" href="#top">Shop</a>
<button id="host-button" type="button">Host button</button>
<script>window.hostScriptRan = true;</script>
{extra}
<script src="{hub}/widget.js"{key_attr} async></script>
</body></html>"""


class HostSite:
    """A tiny threaded HTTP server that serves registered HTML pages by path."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def other_origin(self) -> str:
        """The same server under another origin (not in any allowed_origins)."""
        return f"http://localhost:{self.port}"

    def add(self, path: str, html: str) -> str:
        self.pages[path] = html
        return path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        unavailable("Chromium", f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        yield browser
        await browser.close()


@dataclass
class PageWatch:
    """Everything a page said: console messages and uncaught errors."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Uncaught errors and console errors: a healthy page has none."""
        return self.errors + [text for kind, text in self.console if kind == "error"]

    def warnings(self, prefix: str = "[Inviaro]") -> list[str]:
        return [text for kind, text in self.console if kind == "warning" and prefix in text]


@pytest.fixture
async def context(browser: Any) -> AsyncIterator[Any]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(WAIT_MS)
    yield ctx
    await ctx.close()


async def open_page(context: Any, url: str) -> tuple[Any, PageWatch]:
    page = await context.new_page()
    watch = PageWatch()
    page.on("console", lambda msg: watch.console.append((msg.type, msg.text)))
    page.on("pageerror", lambda err: watch.errors.append(str(err)))
    await page.goto(url)
    return page, watch


@dataclass
class WidgetSite:
    """A workspace with a widget channel that allows the host site's origin."""

    live: LiveServer
    owner: Account
    channel: dict[str, Any]
    host: HostSite

    @property
    def key(self) -> str:
        return str(self.channel["public_key"])

    def page(self, name: str, **kwargs: Any) -> str:
        """Register a host page embedding this channel; returns its allowed-origin URL."""
        path = self.host.add(
            f"/{self.key}/{name}.html", host_page(self.live.url, self.key, **kwargs)
        )
        return self.host.origin + path

    async def conversation_id(self) -> str:
        """The workspace's one conversation (each test has its own workspace)."""
        items: list[dict[str, Any]] = []
        for _ in range(200):
            items = (await self.owner.get("/api/conversations")).json()["items"]
            if items:
                break
            await asyncio.sleep(0.05)
        assert len(items) == 1, items
        return str(items[0]["id"])

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        r = await self.owner.get(f"/api/conversations/{conversation_id}/messages")
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    async def wait_messages(
        self, conversation_id: str, done: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        """Poll the API until ``done(messages)``; the bound only guards against a hang."""
        items: list[dict[str, Any]] = []
        for _ in range(WAIT_MS // 50):
            items = await self.messages(conversation_id)
            if done(items):
                return items
            await asyncio.sleep(0.05)
        raise AssertionError(f"condition not met; messages: {items}")

    async def reply(self, conversation_id: str, text: str) -> dict[str, Any]:
        r = await self.owner.post(f"/api/conversations/{conversation_id}/messages", {"text": text})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def operator_socket(self) -> Any:
        """A websockets client on /ws/operator with the owner's session cookie."""
        name = cookie_name(self.live.settings)
        cookie = f"{name}={self.owner.client.cookies[name]}"
        return websockets.connect(
            self.live.ws_url + "/ws/operator",
            additional_headers={"Cookie": cookie},
            subprotocols=["inviaro.json"],  # type: ignore[list-item]
        )


@pytest.fixture
async def site(live: LiveServer, host_site: HostSite) -> AsyncIterator[WidgetSite]:
    async with new_client(live.url) as http:
        owner = await signup(http, name="Ada Owner")
        r = await owner.post(
            "/api/channels",
            {
                "kind": "widget",
                "name": "Website",
                "config": {
                    "allowed_origins": [host_site.origin],
                    "title": "Acme help",
                    "color": "#aa0055",
                },
            },
        )
        assert r.status_code == 201, r.text
        yield WidgetSite(live, owner, r.json(), host_site)


async def screenshot(page: Any, name: str) -> None:
    """Saved only when INVIARO_SCREENSHOTS names a directory (for the issue's closing note)."""
    folder = os.environ.get("INVIARO_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        await page.screenshot(path=os.path.join(folder, f"{name}.png"))


async def next_frame(sock: Any, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The next frame on an operator socket that ``match``es (bounded wait)."""
    async with asyncio.timeout(WAIT_MS / 1000):
        while True:
            frame = json.loads(await sock.recv())
            if match(frame):
                return dict(frame)
