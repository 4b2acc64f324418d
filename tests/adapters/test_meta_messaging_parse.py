from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.base import PayloadError
from adapters.meta import parse_messaging
from hub.model import Attachment, ProviderMessage, ProviderStatus, ProviderWatermark

Payload = Callable[[str], bytes]
PSID, PAGE = "6543210987654321", "106123456789012"


def ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def test_messenger_text_becomes_provider_message(payload: Payload) -> None:
    assert parse_messaging(payload("messenger_text.json"), "page") == [
        ProviderMessage(
            provider_message_id="mid.1457764197618:41d102a3e1ae206a38",
            contact_external_id=PSID,
            contact_name=None,
            text="hello, world!",
            sent_at=ms(1458692752478),
            option="<DEVELOPER_DEFINED_PAYLOAD>",  # a tapped quick reply's payload
        )
    ]


def test_messenger_attachment_url_becomes_attachment_url(payload: Payload) -> None:
    [event] = parse_messaging(payload("messenger_attachment.json"), "page")
    assert isinstance(event, ProviderMessage)
    assert event.attachments == (
        Attachment(url="https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg", mime="image/jpeg"),
    )
    assert event.text == ""


@pytest.mark.parametrize(
    ("kind", "url", "mime"),
    [
        (
            "image",
            "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=x",
            "image/*",
        ),
        ("image", "https://scontent.xx.fbcdn.net/v/photo.png?stp=dst", "image/png"),
        ("video", "https://video.xx.fbcdn.net/v/clip.mp4", "video/mp4"),
        ("audio", "https://cdn.fbsbx.com/v/voice", "audio/*"),
        ("image", "https://cdn.fbsbx.com/v/not-an-image.mp4", "image/*"),
        ("file", "https://cdn.fbsbx.com/v/report.pdf", None),
    ],
)
def test_an_attachment_keeps_its_kind_as_a_mime_type(kind: str, url: str, mime: str | None) -> None:
    body = (
        '{"object":"instagram","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"9"},'
        '"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m1","attachments":'
        f'[{{"type":"{kind}","payload":{{"url":"{url}"}}}}]}}}}]}}]}}'
    )
    [event] = parse_messaging(body.encode(), "instagram")
    assert isinstance(event, ProviderMessage)
    assert [(a.url, a.mime) for a in event.attachments] == [(url, mime)]


def test_echo_is_marked_and_keyed_on_the_recipient(payload: Payload) -> None:
    assert parse_messaging(payload("messenger_echo.json"), "page") == [
        ProviderMessage(
            provider_message_id="mid.1457764197618:41d102a3e1ae206a38",
            contact_external_id=PSID,
            contact_name=None,
            text="hello",
            sent_at=ms(1457764197627),
            echo=True,
        )
    ]


def test_delivery_gives_status_per_mid_and_a_watermark(payload: Payload) -> None:
    assert parse_messaging(payload("messenger_delivery.json"), "page") == [
        ProviderStatus("mid.1458668856218:ed81099e15d3f4f233", "delivered", ms(1458668856253)),
        ProviderWatermark(PSID, "delivered", ms(1458668856253)),
    ]


def test_read_gives_a_read_watermark(payload: Payload) -> None:
    assert parse_messaging(payload("messenger_read.json"), "page") == [
        ProviderWatermark(PSID, "read", ms(1458668856253))
    ]


def test_reaction_becomes_tagged_text_with_a_stable_id(payload: Payload) -> None:
    assert parse_messaging(payload("messenger_reaction.json"), "page") == [
        ProviderMessage(
            provider_message_id=f"reaction:mid.ours:{PSID}:1458668856463",
            contact_external_id=PSID,
            contact_name=None,
            text="[reaction \u2764\ufe0f to mid.ours]",
            sent_at=ms(1458668856463),
        )
    ]


def test_standby_events_are_read_like_messaging(payload: Payload) -> None:
    [event] = parse_messaging(payload("messenger_standby.json"), "page")
    assert isinstance(event, ProviderMessage)
    assert (event.provider_message_id, event.text) == ("mid.standby1", "café / bär")


def test_instagram_dm_becomes_provider_message(payload: Payload) -> None:
    assert parse_messaging(payload("instagram_text.json"), "instagram") == [
        ProviderMessage(
            provider_message_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx",
            contact_external_id="1234567890123456",
            contact_name=None,
            text="This is the first message from the customer",
            sent_at=ms(1631082844000),
        )
    ]


def test_instagram_seen_marks_that_message_read(payload: Payload) -> None:
    assert parse_messaging(payload("instagram_seen.json"), "instagram") == [
        ProviderStatus("aWdfour", "read", ms(1631082845000))
    ]


def test_instagram_unsend_gives_no_event(payload: Payload) -> None:
    assert parse_messaging(payload("instagram_unsend.json"), "instagram") == []


def test_instagram_payload_wrapped_in_an_array_is_accepted(payload: Payload) -> None:
    body = b"[" + payload("instagram_text.json") + b"]"
    assert len(parse_messaging(body, "instagram")) == 1


def test_payload_for_another_product_is_refused(payload: Payload) -> None:
    with pytest.raises(PayloadError):
        parse_messaging(payload("instagram_text.json"), "page")


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"object": "page", "entry": "x"}',
        b'{"object": "page", "entry": [{"messaging": [{"recipient": {"id": "1"}}]}]}',
        b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}}]}]}',
        b'{"object":"page","entry":[{"messaging":[{"sender":{"id":"1"},"recipient":{"id":"2"},'
        b'"message":{"text":"no mid"}}]}]}',
        b'{"object":"page","entry":[{"messaging":[{"sender":{"id":"1"},"recipient":{"id":"2"},'
        b'"timestamp":true,"message":{"mid":"m","text":"x"}}]}]}',
        b'{"object":"page","entry":[{"messaging":[{"sender":{"id":"1"},"recipient":{"id":"2"},'
        b'"message":{"mid":"m","attachments":{"type":"image"}}}]}]}',
        b'{"object":"page","entry":[{"messaging":[{"sender":{"id":"1"},"recipient":{"id":"2"},'
        b'"delivery":{"mids":[null],"watermark":1}}]}]}',
    ],
)
def test_malformed_messaging_payload_raises_payload_error_only(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_messaging(body, "page")
