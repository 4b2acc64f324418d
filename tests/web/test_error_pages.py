"""People get an HTML page with a way back; machines keep the JSON error shape."""

from __future__ import annotations

import httpx

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_a_browser_gets_an_html_404_with_a_way_back(client: httpx.AsyncClient) -> None:
    page = await client.get("/no/such/page", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and 'href="/"' in page.text


async def test_the_api_keeps_json_404s_even_for_a_browser(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/no-such-thing", headers=BROWSER)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


async def test_a_client_asking_for_json_gets_json(client: httpx.AsyncClient) -> None:
    answer = await client.get("/no/such/page", headers={"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"
    plain = await client.get("/no/such/page")  # Accept: */*
    assert plain.json()["error"] == "not_found"


async def test_a_wrong_method_on_a_page_is_json_for_posts(client: httpx.AsyncClient) -> None:
    answer = await client.post("/login", headers=BROWSER)
    assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"
