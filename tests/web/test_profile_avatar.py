"""An operator's picture: a small PNG, JPEG or WebP recognised by its bytes, kept in the
database, served to the operators of the same workspace only, never as anything a
browser could run; refused with a sentence when too large or not an image."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, new_client, signup

# The smallest well-formed files of each kind (1x1 pixel).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="
)
WEBP = base64.b64decode("UklGRhoAAABXRUJQVlA4TA4AAAAvAAAAAAcQEf0PRET/Aw==")
JPEG_START = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


async def upload(account: Account, data: bytes, ctype: str = "image/png") -> httpx.Response:
    headers = {**account.csrf, "Content-Type": ctype}
    return await account.client.put("/api/me/avatar", content=data, headers=headers)


async def test_an_uploaded_picture_is_served_to_colleagues_with_nosniff_and_a_sandbox(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent")
    try:
        done = await upload(agent, PNG)
        assert done.status_code == 200, done.text
        url = done.json()["avatar_url"]
        assert url.startswith(f"/api/operators/{agent.operator_id}/avatar?v=")
        listed = (await owner.get("/api/operators")).json()["items"]
        assert {o["id"]: o["avatar_url"] for o in listed}[agent.operator_id] == url
        served = await owner.get(url)
        assert served.status_code == 200 and served.content == PNG
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        assert "default-src 'none'" in served.headers["content-security-policy"]
    finally:
        await agent.client.aclose()


async def test_the_type_comes_from_the_bytes_not_the_declared_content_type(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    assert (await upload(owner, WEBP, "image/png")).status_code == 200
    served = await owner.get(f"/api/operators/{owner.operator_id}/avatar")
    assert served.headers["content-type"] == "image/webp"
    assert (await upload(owner, JPEG_START + b"\x00" * 64, "application/octet-stream")).is_success
    served = await owner.get(f"/api/operators/{owner.operator_id}/avatar")
    assert served.headers["content-type"] == "image/jpeg"


async def test_a_picture_that_is_not_png_jpeg_or_webp_is_415_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    for data, ctype in ((SVG, "image/svg+xml"), (b"GIF89a" + b"\x00" * 20, "image/png"), (b"", "")):
        refused = await upload(owner, data, ctype or "image/png")
        assert refused.status_code == 415, refused.text
        assert refused.json()["detail"] == "A picture must be a PNG, JPEG or WebP image."
    assert (await owner.get("/api/me")).json()["operator"]["avatar_url"] is None
    assert (await owner.get(f"/api/operators/{owner.operator_id}/avatar")).status_code == 404


async def test_a_picture_over_256_kb_is_413_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    refused = await upload(owner, PNG + b"\x00" * (256 * 1024))
    assert refused.status_code == 413
    assert refused.json()["detail"] == "A picture may be at most 256 KB; choose a smaller one."
    assert (await owner.get("/api/me")).json()["operator"]["avatar_url"] is None
    exactly = PNG + b"\x00" * (256 * 1024 - len(PNG))
    assert (await upload(owner, exactly)).status_code == 200


async def test_another_workspace_cannot_see_a_picture(live: LiveServer) -> None:
    async with new_client(live.url) as a, new_client(live.url) as b:
        owner = await signup(a)
        stranger = await signup(b)
        url = (await upload(owner, PNG)).json()["avatar_url"]
        assert (await stranger.get(url)).status_code == 404
    async with new_client(live.url) as anonymous:
        assert (await anonymous.get(url)).status_code == 401


async def test_a_removed_picture_is_gone_and_both_changes_are_audited(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client)
    first = (await upload(owner, PNG)).json()["avatar_url"]
    assert (await owner.delete("/api/me/avatar")).status_code == 204
    assert (await owner.get(first)).status_code == 404
    assert (await owner.get("/api/me")).json()["operator"]["avatar_url"] is None
    actions = [e["action"] for e in (await owner.get("/api/audit")).json()["items"]]
    assert {"avatar_changed", "avatar_removed"} <= set(actions)


async def test_deleting_an_operator_erases_their_picture(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    agent = await add_operator(owner, "agent")
    try:
        url = (await upload(agent, PNG)).json()["avatar_url"]
    finally:
        await agent.client.aclose()
    assert (await owner.delete(f"/api/operators/{agent.operator_id}")).status_code == 204
    assert (await owner.get(url)).status_code == 404


async def test_the_operators_own_export_carries_their_picture(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    assert (await owner.get("/api/me/export")).json()["operator"]["avatar"] is None
    assert (await upload(owner, WEBP)).status_code == 200
    picture = (await owner.get("/api/me/export")).json()["operator"]["avatar"]
    assert picture["mime"] == "image/webp"
    assert base64.b64decode(picture["base64"]) == WEBP
