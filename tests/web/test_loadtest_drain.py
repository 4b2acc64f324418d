"""When ``inviaro loadtest`` stops waiting for deliveries: a message sent but not yet acked
may still be delivered, so it is waited for (late), not counted as lost."""

from __future__ import annotations

from typing import Any

from web.loadtest import _Controller


def controller(**progress: Any) -> _Controller:
    c = _Controller(report=None, workers=[], say=print, wanted=0)
    c.progress = {0: {"subscribers_by_room": {0: 3}, **progress}}
    return c


def test_a_sent_message_not_yet_answered_keeps_the_drain_going() -> None:
    # Every delivery the acks so far promise has arrived, but one message is unanswered.
    c = controller(sent=3, acked=2, errors=0, received=6, acked_by_room={0: 2})
    assert not c.drained()


def test_the_drain_ends_once_every_message_is_answered_and_delivered() -> None:
    c = controller(sent=3, acked=2, errors=1, received=6, acked_by_room={0: 2})
    assert c.drained()


def test_the_drain_waits_for_deliveries_the_acks_promise() -> None:
    c = controller(sent=3, acked=3, errors=0, received=8, acked_by_room={0: 3})
    assert not c.drained()
