"""A message's wire form: the contract's keys, in their order, a new dict each time."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.model import NO_DELIVERY, Author, Delivery, Message, SendFailure


def message(delivery: Delivery = NO_DELIVERY) -> Message:
    return Message(
        id="msg_1",
        workspace_id="ws_1",
        conversation_id="cv_1",
        seq=3,
        direction="out",
        author=Author("operator", "op_1", "Grace"),
        text="hello",
        attachments=(),
        status="queued",
        created_at=datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC),
        delivery=delivery,
    )


def test_a_message_without_a_delivery_state_has_its_keys_in_the_contract_order() -> None:
    assert list(message().to_wire().items()) == [
        ("id", "msg_1"),
        ("conversation_id", "cv_1"),
        ("seq", 3),
        ("direction", "out"),
        ("author", {"kind": "operator", "id": "op_1", "name": "Grace"}),
        ("text", "hello"),
        ("attachments", []),
        ("status", "queued"),
        ("client_id", None),
        ("created_at", "2026-12-08T01:02:03.456Z"),
        ("private", False),
        ("error", None),
        ("attempts", 0),
        ("next_attempt_at", None),
    ]


def test_a_delivery_state_fills_the_same_keys() -> None:
    at = datetime(2026, 12, 8, 1, 5, tzinfo=UTC)
    wire = message(Delivery(SendFailure("131047", "window closed"), 2, at)).to_wire()
    assert (wire["error"], wire["attempts"], wire["next_attempt_at"]) == (
        {"code": "131047", "detail": "window closed"},
        2,
        "2026-12-08T01:05:00.000Z",
    )


def test_changing_one_wire_form_leaves_the_next_alone() -> None:
    first = message().to_wire()
    first.update(error={"code": "x", "detail": "y"}, attempts=9)
    assert message().to_wire()["error"] is None and message().to_wire()["attempts"] == 0
