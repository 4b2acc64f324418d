"""OAuth for calendar connections: PKCE and the authorization URLs (pure)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from adapters import calendar_oauth


def test_the_pkce_challenge_is_rfc_7636s_s256_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert calendar_oauth.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_google_is_asked_for_free_busy_and_events_only_with_offline_access() -> None:
    url = calendar_oauth.authorize_url(
        calendar_oauth.GOOGLE,
        client_id="c",
        redirect_uri="https://hub/cb",
        state="s",
        verifier="v" * 43,
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert set(query["scope"][0].split()) == {
        "https://www.googleapis.com/auth/calendar.freebusy",
        "https://www.googleapis.com/auth/calendar.events",
    }
    assert query["access_type"] == ["offline"] and query["code_challenge_method"] == ["S256"]


def test_microsoft_is_asked_for_calendars_read_write_and_offline_access() -> None:
    url = calendar_oauth.authorize_url(
        calendar_oauth.MICROSOFT,
        client_id="c",
        redirect_uri="https://hub/cb",
        state="s",
        verifier="v" * 43,
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?")
    assert set(query["scope"][0].split()) == {
        "offline_access",
        "https://graph.microsoft.com/Calendars.ReadWrite",
    }
