"""``GET /widget.js``: served from the package as JavaScript, cacheable, embeddable."""

from __future__ import annotations

from importlib.resources import files

import httpx


async def test_widget_js_is_served_with_caching_headers(client: httpx.AsyncClient) -> None:
    r = await client.get("/widget.js", headers={"Origin": "https://shop.example"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert "max-age=" in r.headers["cache-control"]
    assert r.headers["cache-control"].startswith("public")
    assert r.headers["etag"].startswith('"')
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "x-frame-options" not in r.headers
    assert r.content == (files("widget") / "widget.js").read_bytes()
    assert b"data-inviaro-key" in r.content

    again = await client.get("/widget.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == r.headers["etag"]


async def test_widget_js_travels_gzipped_and_small(client: httpx.AsyncClient) -> None:
    r = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert r.content == (files("widget") / "widget.js").read_bytes()
    assert int(r.headers["content-length"]) < 10 * 1024


async def test_widget_js_is_sent_plain_to_a_client_that_refuses_gzip(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/widget.js", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in r.headers
    assert r.content == (files("widget") / "widget.js").read_bytes()


async def test_widget_js_source_stays_small() -> None:
    assert len((files("widget") / "widget.js").read_bytes()) < 32 * 1024
