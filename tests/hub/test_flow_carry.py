"""An advance's outside work survives a trip through the database's JSON whole: every
action comes back equal to itself, an AI step's call with its step typed again."""

from __future__ import annotations

import orjson

from hub.flows import engine
from hub.flows.ai import AiClassify
from hub.flows.carry import Carry
from hub.flows.document import parse

CLASSIFY = {
    "trigger": {"on": "conversation_started"},
    "start": "s",
    "steps": {
        "s": {"type": "ai_classify", "labels": ["a"], "cases": {"a": "e"}, "else": "e"},
        "e": {"type": "end"},
    },
}


def _through_json(carry: Carry) -> Carry:
    return Carry.unpack(orjson.loads(orjson.dumps(carry.pack())))


def test_every_action_and_line_comes_back_from_json_equal() -> None:
    parsed, _ = parse(CLASSIFY)
    assert parsed is not None
    actions: list[engine.Action] = [
        engine.Say("Pick one", (("Sales", "s"),), ("hello", "en", ("Ana",)), step="ask"),
        engine.SaveContact("email", "ana@example.com"),
        engine.SetTags(("vip",), ("new",)),
        engine.AssignTo("tm_1", None),
        engine.HandOff(None),
        engine.ResolveConversation(),
        engine.CallHttp("POST", "https://example.com/hook", {"a": "b"}, 3),
        engine.StartTimer(5, 4),
        engine.CallAi("s", parsed.steps["s"], 5),
        engine.FindSlots("bt_1", "Europe/Lisbon", 6, again=True, action="reschedule"),
        engine.BookSlot("bt_1", "2026-12-08T10:00:00Z", 7),
        engine.CancelBooking("bt_1", None, 8),
    ]
    carry = Carry(actions, [engine.StepLog("ask", "asked for email")], resolved=True)
    back = _through_json(carry)
    assert back == carry
    assert [a.step for a in back.actions if isinstance(a, engine.Say)] == ["ask"]
    (call,) = [a for a in back.actions if isinstance(a, engine.CallAi)]
    assert isinstance(call.step, AiClassify)


def test_only_work_outside_the_database_needs_carrying_out() -> None:
    assert not Carry([engine.SaveContact("name", "Ana")], [engine.StepLog("a", "sent")]).anything()
    assert Carry([engine.Say("hi")], []).anything()
    assert Carry([], [engine.StepLog("a", "saved contact.email")]).anything()
    assert Carry([], [], resolved=True).anything()
