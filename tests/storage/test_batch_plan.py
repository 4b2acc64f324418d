"""The batch plan, without a database: duplicates, in-batch twins, gap-free seq, outbox rows
and conversation counters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hub.model import NO_DELIVERY, Author, Inbound, Message
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


def test_a_private_note_on_an_external_channel_never_enters_the_outbox() -> None:
    note = item(0, author=OLGA, direction="out", channel_id="ch_wa", private=True)
    out = plan([note], {0: WHATSAPP}, {"cv_2": OPEN}, {}, NOW)
    assert out.outbox == []
    assert out.results[0].message.status == "sent" and out.results[0].message.private
    assert out.messages[0]["private"] is True


def test_a_provider_echo_of_the_business_own_message_never_enters_the_outbox() -> None:
    echo = item(0, author=OLGA, direction="out", channel_id="ch_wa", provider_message_id="w.1")
    echo = replace(echo, status="sent")
    out = plan([echo], {0: WHATSAPP}, {"cv_2": OPEN}, {}, NOW)
    assert out.outbox == [] and out.results[0].message.status == "sent"


def test_an_inbound_message_on_an_external_channel_never_enters_the_outbox() -> None:
    out = plan([item(0, channel_id="ch_wa")], {0: WHATSAPP}, {"cv_2": OPEN}, {}, NOW)
    assert out.outbox == [] and out.results[0].message.status == "received"


def test_a_new_message_starts_with_no_delivery_error_and_no_attempts() -> None:
    reply = item(0, author=OLGA, direction="out", channel_id="ch_wa")
    out = plan([reply], {0: WHATSAPP}, {"cv_2": OPEN}, {}, NOW)
    row = out.messages[0]
    assert (row["error"], row["error_code"], row["attempts"], row["next_attempt_at"]) == (
        None,
        None,
        0,
        None,
    )
    assert out.results[0].message.delivery == NO_DELIVERY


def test_a_flows_options_and_a_contacts_picked_option_are_kept_and_returned() -> None:
    offer = {"options": [{"label": "Yes", "value": "y"}, {"label": "No", "value": "n"}]}
    question = item(0, author=Author("bot", None, "Flow"), direction="out", payload=offer)
    answer = item(1, payload={"option": "y"})
    out = plan([question, answer], {0: CUSTOM, 1: CUSTOM}, {"cv_1": OPEN}, {}, NOW)
    assert out.results[0].message.options == (("Yes", "y"), ("No", "n"))
    assert out.results[1].message.option == "y"
    assert [r["payload"] for r in out.messages] == [offer, {"option": "y"}]


def test_the_senders_sent_at_is_stored_and_returned_beside_created_at() -> None:
    out = plan([item(0, sent_at=EARLIER)], {0: CUSTOM}, {"cv_1": OPEN}, {}, NOW)
    assert out.messages[0]["sent_at"] == EARLIER and out.messages[0]["created_at"] == NOW
    assert out.results[0].message.sent_at == EARLIER


def test_a_twin_of_a_private_note_gets_the_note_and_adds_no_outbox_row() -> None:
    notes = [
        item(n, author=OLGA, direction="out", channel_id="ch_wa", private=True, client_id="n-1")
        for n in range(2)
    ]
    out = plan(notes, dict.fromkeys(range(2), WHATSAPP), {"cv_2": OPEN}, {}, NOW)
    assert [r["id"] for r in out.messages] == ["msg_0"] and out.outbox == []
    assert out.results[1].message == out.results[0].message and not out.results[1].created


def test_twins_of_an_outbound_reply_queue_one_send() -> None:
    replies = [
        item(n, author=OLGA, direction="out", channel_id="ch_wa", client_id="r-1") for n in range(3)
    ]
    out = plan(replies, dict.fromkeys(range(3), WHATSAPP), {"cv_2": OPEN}, {}, NOW)
    assert [o["message_id"] for o in out.outbox] == ["msg_0"]
    assert [out.results[n].message.id for n in range(3)] == ["msg_0"] * 3


def test_a_twin_after_a_stored_copy_gets_the_stored_message() -> None:
    earlier = stored("msg_0", 3)
    items = [item(0), item(0)]
    out = plan(
        items, dict.fromkeys(range(2), CUSTOM), {"cv_1": OPEN}, {("id", "msg_0"): earlier}, NOW
    )
    assert out.messages == [] and all(out.results[n].message is earlier for n in range(2))
