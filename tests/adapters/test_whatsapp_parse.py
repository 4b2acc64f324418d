from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.base import PayloadError
from adapters.meta import parse_whatsapp
from hub.model import Attachment, ProviderMessage, ProviderStatus

Payload = Callable[[str], bytes]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_text_message_becomes_provider_message_with_profile_name(payload: Payload) -> None:
    assert parse_whatsapp(payload("wa_text.json")) == [
        ProviderMessage(
            provider_message_id="wamid.xyzxyz",
            contact_external_id="972987654321",
            contact_name="Test Name",
            text="Body Text",
            sent_at=at(1697043223),
        )
    ]


def test_image_becomes_attachment_with_media_id_and_no_url(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_image.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == ""
    assert event.attachments == (
        Attachment(url=None, mime="image/jpeg", provider_media_id="65463453"),
    )


def test_document_caption_becomes_text_and_filename_is_kept(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_document.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "Invoice for March"
    assert event.attachments == (
        Attachment(
            url=None, mime="application/pdf", name="invoice.pdf", provider_media_id="987654321"
        ),
    )


def test_sticker_becomes_attachment(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_sticker.json"))
    assert isinstance(event, ProviderMessage)
    assert event.attachments == (Attachment(url=None, mime="image/webp", provider_media_id="5555"),)


def test_location_becomes_readable_text(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_location.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "📍 Meta HQ, 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)"


def test_button_reply_becomes_its_title(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_interactive_button.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "Yes, confirm"


def test_list_reply_becomes_its_title(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_interactive_list.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "10:00"


def test_template_quick_reply_button_becomes_its_text(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_button.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "Stop promotions"


def test_reaction_becomes_tagged_text_naming_the_reacted_message(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_reaction.json"))
    assert event == ProviderMessage(
        provider_message_id="wamid.react1",
        contact_external_id="972987654321",
        contact_name="Test Name",
        text="[reaction 👍 to wamid.ours]",
        sent_at=at(1697043603),
    )


def test_withdrawn_reaction_says_removed(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_reaction_removed.json"))
    assert isinstance(event, ProviderMessage)
    assert event.text == "[reaction removed from wamid.ours]"


def test_contact_without_wa_id_is_keyed_on_user_id(payload: Payload) -> None:
    [event] = parse_whatsapp(payload("wa_bsuid.json"))
    assert isinstance(event, ProviderMessage)
    assert (event.contact_external_id, event.contact_name) == ("US.1349", "Ann")


@pytest.mark.parametrize(
    ("fixture", "status", "seconds"),
    [
        ("wa_status_sent.json", "sent", 1698266945),
        ("wa_status_delivered.json", "delivered", 1698266945),
        ("wa_status_read.json", "read", 1689380458),
    ],
)
def test_status_update_becomes_provider_status(
    payload: Payload, fixture: str, status: str, seconds: int
) -> None:
    assert parse_whatsapp(payload(fixture)) == [
        ProviderStatus(provider_message_id="wamid.xyzxyz", status=status, at=at(seconds))  # type: ignore[arg-type]
    ]


def test_failed_status_carries_error_code_and_its_meaning(payload: Payload) -> None:
    assert parse_whatsapp(payload("wa_status_failed.json")) == [
        ProviderStatus(
            provider_message_id="wamid.xyzxyz",
            status="failed",
            at=at(1689380458),
            error="The recipient's number is part of a WhatsApp experiment and cannot get this.",
            error_code="130472",
        )
    ]


def test_a_failed_status_with_an_unknown_code_keeps_meta_title(payload: Payload) -> None:
    data = json.loads(payload("wa_status_failed.json"))
    status = data["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["errors"][0]["code"] = 999999
    [event] = parse_whatsapp(json.dumps(data).encode())
    assert isinstance(event, ProviderStatus)
    assert (event.error, event.error_code) == ("User's number is part of an experiment", "999999")


def test_every_entry_and_change_is_read_in_order(payload: Payload) -> None:
    events = parse_whatsapp(payload("wa_batch.json"))
    assert [(type(e).__name__, getattr(e, "provider_message_id", None)) for e in events] == [
        ("ProviderMessage", "wamid.a"),
        ("ProviderMessage", "wamid.b"),
        ("ProviderStatus", "wamid.xyzxyz"),
    ]
    assert isinstance(events[1], ProviderMessage)
    assert events[1].contact_name == "Other"


def test_unknown_message_type_still_reaches_the_inbox() -> None:
    body = (
        b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
        b'"value":{"messages":[{"from":"1","id":"wamid.u","timestamp":"1","type":"unsupported",'
        b'"errors":[{"code":131051}]}]}}]}]}'
    )
    [event] = parse_whatsapp(body)
    assert isinstance(event, ProviderMessage)
    assert event.text == "[unsupported message]"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"a string"',
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"messages":[{"id":"wamid.x","type":"text","text":{"body":"no sender"}}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"messages":[{"from":"1","id":"wamid.x","timestamp":"soon","type":"text",'
        b'"text":{"body":"x"}}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"messages":[{"from":"1","id":"wamid.x","type":"image","image":"x"}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"messages":[{"from":"1","id":"wamid.x","type":"location",'
        b'"location":{"latitude":"north"}}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"statuses":[{"status":"read"}]}}]}]}',
        b"[" * 100_000,
    ],
)
def test_malformed_payload_raises_payload_error_only(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_whatsapp(body)
