from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from adapters.base import ConfigError, UnknownChannelKind, adapter_for, adapter_kinds
from adapters.meta import MessengerAdapter, WhatsAppAdapter, verify_challenge

Payload = Callable[[str], bytes]
Sign = Callable[[str, bytes], str]
SECRET = "app-secret-123"
WHATSAPP = {
    "phone_number_id": "1122334455667",
    "access_token": "EAAG-token",
    "app_secret": SECRET,
    "verify_token": "verify-me",
}


def whatsapp() -> WhatsAppAdapter:
    adapter = adapter_for("whatsapp", WHATSAPP)
    assert isinstance(adapter, WhatsAppAdapter)
    return adapter


def test_challenge_is_echoed_for_subscribe_with_the_right_token() -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "verify-me",
        "hub.challenge": "1158201444",
    }
    assert verify_challenge(query, "verify-me") == "1158201444"


def test_challenge_is_refused_for_a_wrong_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    assert verify_challenge(query, "verify-me") is None


def test_challenge_is_refused_for_another_mode() -> None:
    query = {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"}
    assert verify_challenge(query, "verify-me") is None


def test_signature_over_the_raw_body_is_accepted(payload: Payload, sign: Sign) -> None:
    body = payload("wa_text.json")
    headers = {"X-Hub-Signature-256": "sha256=" + sign(SECRET, body)}
    assert whatsapp().verify(headers, body)


def test_signature_header_name_is_case_insensitive(payload: Payload, sign: Sign) -> None:
    body = payload("wa_text.json")
    assert whatsapp().verify({"x-hub-signature-256": "sha256=" + sign(SECRET, body)}, body)


def test_body_reserialised_with_other_escapes_is_refused(payload: Payload, sign: Sign) -> None:
    raw = payload("messenger_reaction.json")
    assert b"\\u2764" in raw
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    headers = {"X-Hub-Signature-256": "sha256=" + sign(SECRET, raw)}
    assert whatsapp().verify(headers, raw)
    assert not whatsapp().verify(headers, reserialised)


def test_signature_made_with_another_secret_is_refused(payload: Payload, sign: Sign) -> None:
    body = payload("wa_text.json")
    headers = {"X-Hub-Signature-256": "sha256=" + sign("other-secret", body)}
    assert not whatsapp().verify(headers, body)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": "sha1=abc"},
        {"X-Hub-Signature": "x"},
    ],
)
def test_missing_or_malformed_signature_is_refused(headers: dict[str, str]) -> None:
    assert not whatsapp().verify(headers, b"{}")


def test_unhexable_signature_is_refused_without_raising(payload: Payload) -> None:
    assert not whatsapp().verify({"X-Hub-Signature-256": "sha256=ééé"}, payload("wa_text.json"))


def test_registry_knows_every_external_channel_kind() -> None:
    assert adapter_kinds() == {"whatsapp", "messenger", "instagram", "viber"}


def test_registry_builds_instagram_from_its_account_id() -> None:
    adapter = adapter_for(
        "instagram",
        {"account_id": "1784", "access_token": "t", "app_secret": "s", "verify_token": "v"},
    )
    assert isinstance(adapter, MessengerAdapter)
    assert (adapter.kind, adapter.account_id, adapter.webhook_object) == (
        "instagram",
        "1784",
        "instagram",
    )


def test_registry_refuses_kinds_without_an_adapter() -> None:
    with pytest.raises(UnknownChannelKind):
        adapter_for("widget", {})


def test_registry_refuses_config_missing_a_secret() -> None:
    with pytest.raises(ConfigError):
        adapter_for("messenger", {"page_id": "1", "access_token": "t", "verify_token": "v"})


def test_adapter_repr_hides_secrets() -> None:
    assert "EAAG-token" not in repr(whatsapp())
    assert SECRET not in repr(whatsapp())
