"""The batch plan, without a database: duplicates, in-batch twins, gap-free seq, outbox rows
and conversation counters."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.model import Author, Inbound, Message
from storage.batch_plan import Counters, Placement, client_key, plan

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EARLIER = datetime(2026, 1, 1, tzinfo=UTC)
ANN = Author("contact", "ct_1", "Ann")
OLGA = Author("operator", "op_1", "Olga")
CUSTOM = Placement("cv_1", "ch_custom", "custom")
WHATSAPP = Placement("cv_2", "ch_wa", "whatsapp")
OPEN = Counters("open", last_seq=4, read_seq=2, last_inbound_at=EARLIER)


def item(n: int, **kw: object) -> Inbound:
    values: dict[str, object] = {
        "workspace_id": "ws_1",
        "channel_id": "ch_custom",
        "direction": "in",
        "author": ANN,
        "text": f"m{n}",
        "id": f"msg_{n}",
    }
    values.update(kw)
    return Inbound(**values)  # type: ignore[arg-type]


def stored(id: str, seq: int) -> Message:
    return Message(id, "ws_1", "cv_1", seq, "in", ANN, "before", (), "received", EARLIER)


def ids(prefix: str) -> str:
    return f"{prefix}new"


def test_new_messages_take_the_next_seqs_of_their_conversation_in_order() -> None:
    items = [item(0), item(1), item(2)]
    out = plan(items, dict.fromkeys(range(3), CUSTOM), {"cv_1": OPEN}, {}, NOW)
    assert [out.results[n].message.seq for n in range(3)] == [5, 6, 7]
    assert all(out.results[n].created for n in range(3))
    assert [r["seq"] for r in out.messages] == [5, 6, 7]
    assert [c["last_seq"] for c in out.counters] == [7]


def test_each_conversation_counts_on_from_its_own_last_seq() -> None:
    items = [item(0), item(1, channel_id="ch_wa"), item(2)]
    placed = {0: CUSTOM, 1: WHATSAPP, 2: CUSTOM}
    other = Counters("open", last_seq=0, read_seq=0, last_inbound_at=None)
    out = plan(items, placed, {"cv_1": OPEN, "cv_2": other}, {}, NOW)
    assert [out.results[n].message.seq for n in range(3)] == [5, 1, 6]
    assert {c["b_id"]: c["last_seq"] for c in out.counters} == {"cv_1": 6, "cv_2": 1}


def test_a_message_with_a_stored_id_returns_the_stored_message() -> None:
    earlier = stored("msg_0", 3)
    out = plan([item(0)], {0: CUSTOM}, {"cv_1": OPEN}, {("id", "msg_0"): earlier}, NOW)
    assert out.results[0].message is earlier and not out.results[0].created
    assert out.messages == [] and out.counters == []


def test_a_resend_of_a_stored_client_id_by_its_author_returns_the_stored_message() -> None:
    earlier = stored("msg_x", 3)
    key = client_key("cv_1", "contact", "ct_1", "c-1")
    out = plan([item(0, client_id="c-1")], {0: CUSTOM}, {"cv_1": OPEN}, {key: earlier}, NOW)
    assert out.results[0].message is earlier and not out.results[0].created


def test_another_authors_equal_client_id_is_a_new_message() -> None:
    key = client_key("cv_1", "contact", "ct_1", "c-1")
    reply = item(0, client_id="c-1", author=OLGA, direction="out")
    out = plan([reply], {0: CUSTOM}, {"cv_1": OPEN}, {key: stored("msg_x", 3)}, NOW)
    assert out.results[0].created and out.results[0].message.seq == 5


def test_a_stored_provider_message_id_on_the_channel_returns_the_stored_message() -> None:
    earlier = stored("msg_x", 3)
    key = ("provider", "ch_custom", "wamid.1")
    out = plan(
        [item(0, provider_message_id="wamid.1")], {0: CUSTOM}, {"cv_1": OPEN}, {key: earlier}, NOW
    )
    assert out.results[0].message is earlier and not out.results[0].created


def test_twins_in_one_batch_are_stored_once_and_all_get_the_first_message() -> None:
    items = [item(n, provider_message_id="wamid.1") for n in range(3)]
    out = plan(items, dict.fromkeys(range(3), CUSTOM), {"cv_1": OPEN}, {}, NOW)
    assert [r["id"] for r in out.messages] == ["msg_0"]
    assert out.results[0].created and out.results[0].message.seq == 5
    for n in (1, 2):
        assert out.results[n].message == out.results[0].message and not out.results[n].created
    assert [c["last_seq"] for c in out.counters] == [5]


def test_twins_by_client_id_or_message_id_are_stored_once() -> None:
    items = [item(0, client_id="c-1"), item(1, client_id="c-1"), item(0), item(2)]
    out = plan(items, dict.fromkeys(range(4), CUSTOM), {"cv_1": OPEN}, {}, NOW)
    assert [r["id"] for r in out.messages] == ["msg_0", "msg_2"]
    assert [r["seq"] for r in out.messages] == [5, 6]
    assert out.results[1].message.id == out.results[2].message.id == "msg_0"
    assert not out.results[1].created and not out.results[2].created


def test_an_operator_reply_on_an_external_channel_is_queued_in_the_outbox() -> None:
    reply = item(0, author=OLGA, direction="out", channel_id="ch_wa")
    counters = {"cv_2": OPEN}
    out = plan([reply], {0: WHATSAPP}, counters, {}, NOW, make_id=ids)
    assert out.results[0].message.status == "queued"
    assert out.outbox == [
        {
            "id": "ob_new",
            "workspace_id": "ws_1",
            "message_id": "msg_0",
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
        }
    ]
    assert out.counters[0]["read_seq"] == 5  # who replies has read the thread
    assert out.counters[0]["last_inbound_at"] == EARLIER


def test_an_operator_reply_on_the_widget_is_sent_with_no_outbox_row() -> None:
    reply = item(0, author=OLGA, direction="out")
    out = plan([reply], {0: CUSTOM}, {"cv_1": OPEN}, {}, NOW)
    assert out.results[0].message.status == "sent" and out.outbox == []


def test_an_inbound_message_reopens_a_resolved_conversation() -> None:
    resolved = Counters("resolved", last_seq=4, read_seq=4, last_inbound_at=EARLIER)
    out = plan([item(0)], {0: CUSTOM}, {"cv_1": resolved}, {}, NOW)
    assert out.reopened == {"cv_1"}
    assert out.counters[0]["status"] == "open" and out.counters[0]["last_inbound_at"] == NOW


def test_the_result_is_the_message_as_stored() -> None:
    out = plan([item(0, client_id="c-9")], {0: CUSTOM}, {"cv_1": OPEN}, {}, NOW)
    row, message = out.messages[0], out.results[0].message
    assert (message.id, message.conversation_id, message.seq) == ("msg_0", "cv_1", 5)
    assert (message.text, message.client_id, message.created_at) == ("m0", "c-9", NOW)
    assert row["channel_id"] == "ch_custom" and row["status"] == message.status == "received"
