"""Every listing reads ``limit`` the same way and refuses a bad one with the same sentence."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import signup

# Each listing with its documented maximum.
LISTINGS = [
    ("/api/contacts", 200),
    ("/api/conversations", 200),
    ("/api/conversations/cv_none/messages", 500),
    ("/api/audit", 200),
]


@pytest.mark.parametrize(("url", "most"), LISTINGS)
async def test_a_limit_over_the_maximum_is_refused_with_one_sentence(
    client: httpx.AsyncClient, url: str, most: int
) -> None:
    owner = await signup(client)
    response = await owner.get(url, params={"limit": most + 1})
    sentence = f"The query parameter 'limit' must be a whole number from 1 to {most}."
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid",
        "detail": sentence,
        "problems": [{"field": "limit", "detail": sentence}],
    }


@pytest.mark.parametrize("limit", ["²", "9" * 5000], ids=["superscript", "5000-digits"])
async def test_a_limit_python_cannot_read_as_an_int_is_refused_not_a_crash(
    client: httpx.AsyncClient, limit: str
) -> None:
    owner = await signup(client)
    response = await owner.get("/api/contacts", params={"limit": limit})
    assert response.status_code == 422


async def test_an_empty_limit_means_the_default(client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    assert (await owner.get("/api/conversations", params={"limit": ""})).status_code == 200
