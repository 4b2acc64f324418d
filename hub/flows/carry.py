"""What an advance leaves to do outside the database (bot messages, the operators' lines,
the survey, calls), as JSON: kept beside the run's new state until it is carried out, so
that a process killed in between leaves it for the worker instead of losing it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, get_args

import msgspec

from hub.flows import engine
from hub.flows.ai import AiStep

_ACTIONS: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(engine.Action)}
# Actions whose effect is outside the database (the rest were applied with the state).
_OUTSIDE = (
    engine.Say,
    engine.CallHttp,
    engine.CallAi,
    engine.FindSlots,
    engine.BookSlot,
    engine.CancelBooking,
)


@dataclass(frozen=True, slots=True)
class Carry:
    """An advance's actions and step log, and whether it resolved the conversation."""

    actions: list[engine.Action]
    log: list[engine.StepLog]
    resolved: bool = False

    def anything(self) -> bool:
        """Whether carrying it out does anything (a message, a line, a survey, a call)."""
        return (
            self.resolved
            or any(isinstance(a, _OUTSIDE) for a in self.actions)
            or any(line.outcome != "sent" for line in self.log)
        )

    def pack(self) -> dict[str, Any]:
        return {
            "actions": [[type(a).__name__, msgspec.to_builtins(a)] for a in self.actions],
            "log": [[line.step, line.outcome] for line in self.log],
            "resolved": self.resolved,
        }

    @classmethod
    def unpack(cls, data: dict[str, Any]) -> Carry:
        actions: list[engine.Action] = []
        for name, fields in data["actions"]:
            action = msgspec.convert(fields, _ACTIONS[name])
            if isinstance(action, engine.CallAi):  # its step is typed Any: give it back its type
                action = dataclasses.replace(action, step=msgspec.convert(action.step, AiStep))
            actions.append(action)
        log = [engine.StepLog(step, outcome) for step, outcome in data["log"]]
        return cls(actions, log, bool(data["resolved"]))
