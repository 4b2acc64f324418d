"""When a principal goes away: the one event for it, and the local sockets it closes.

Logout, a revoked token, a disabled operator, a changed password, a deleted workspace or
channel, an erased contact, a switched-on 2FA requirement: each is one :class:`Gone`
naming what went away as :class:`Ref`\\ s. The web layer publishes it on the bus's control
topic; every process (the publisher included) hands it to its :class:`Holders`, which
closes with 1008 each local socket that depends on any named ref, whatever opened it.

A socket is filed under every ref it depends on: an operator socket under its workspace,
its operator and its session or API token; a visitor socket under its workspace, its
channel and its conversation. Closing the same socket twice is harmless, so an event may
arrive more than once (the publisher's own echo, a sweep that found the same thing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, get_args

import msgpack

from hub.fanout import Connection

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008

# "reservation": a widget visitor's conversation before their first message stores it
# (nothing in the database to check it against; the socket moves to "conversation" then).
Kind = Literal[
    "workspace", "operator", "session", "token", "channel", "conversation", "reservation"
]
KINDS: tuple[Kind, ...] = get_args(Kind)

Reason = Literal[
    "logout",  # one session ended by its operator
    "sessions_ended",  # sessions ended by the operator's own security change (2FA enabled)
    "token_revoked",
    "operator_disabled",
    "password_changed",  # every session and API token of the operator
    "2fa_required",  # the workspace now requires 2FA and these operators have none
    "workspace_deleted",
    "channel_deleted",
    "contact_erased",
    "expired",  # found by a sweep: idle, past expiry, purged, or a missed event
]
REASONS: tuple[Reason, ...] = get_args(Reason)


@dataclass(frozen=True, slots=True)
class Ref:
    """Something a socket depends on, by kind and id: ``Ref("token", "tok_…")``."""

    kind: Kind
    id: str


@dataclass(frozen=True, slots=True)
class Gone:
    """These refs went away: close every local socket that depends on any of them."""

    reason: Reason
    refs: tuple[Ref, ...]

    def encode(self) -> bytes:
        """The bus payload (msgpack): ``[reason, [[kind, id], ...]]``."""
        packed: bytes = msgpack.packb([self.reason, [[r.kind, r.id] for r in self.refs]])
        return packed

    @classmethod
    def decode(cls, payload: bytes) -> Gone | None:
        """The event in a bus payload, or None (logged) when it is not one."""
        try:
            reason, refs = msgpack.unpackb(payload, raw=False)
            if reason not in REASONS or not isinstance(refs, list):
                raise ValueError("unknown reason")
            out = []
            for kind, ref_id in refs:
                if kind not in KINDS or not isinstance(ref_id, str):
                    raise ValueError("unknown ref")
                out.append(Ref(kind, ref_id))
        except Exception as err:  # msgpack raises several kinds on garbage
            log.warning("ignoring a malformed gone event (%s)", type(err).__name__)
            return None
        return cls(reason, tuple(out))


def gone(reason: Reason, kind: Kind, *ids: str) -> Gone:
    """Shorthand: ``gone("token_revoked", "token", token_id)``."""
    return Gone(reason, tuple(Ref(kind, i) for i in ids))


class Holders:
    """This process's sockets by every ref they depend on.

    The caller keeps no ref objects per socket: it passes the same refs to :meth:`add` and
    :meth:`remove` (built from the socket's principal each time), so an idle socket costs
    only its membership in a few shared sets."""

    def __init__(self) -> None:
        self._by_kind: dict[Kind, dict[str, set[Connection]]] = {kind: {} for kind in KINDS}

    def add(self, conn: Connection, refs: tuple[Ref, ...]) -> None:
        for ref in refs:
            index = self._by_kind[ref.kind]
            members = index.get(ref.id)
            if members is None:
                index[ref.id] = {conn}
            else:
                members.add(conn)

    def remove(self, conn: Connection, refs: tuple[Ref, ...]) -> None:
        for ref in refs:
            index = self._by_kind[ref.kind]
            members = index.get(ref.id)
            if members is not None:
                members.discard(conn)
                if not members:
                    del index[ref.id]

    def ids(self, kind: Kind) -> list[str]:
        """The ids of ``kind`` that local sockets depend on (what a sweep re-checks)."""
        return list(self._by_kind[kind])

    def count(self, ref: Ref) -> int:
        """How many local sockets depend on ``ref`` (a visitor's sockets, say)."""
        return len(self._by_kind[ref.kind].get(ref.id, ()))

    def apply(self, event: Gone, code: int = CLOSE_POLICY) -> int:
        """Close every local socket depending on a ref of ``event``; returns how many."""
        closed = 0
        for ref in event.refs:
            for conn in list(self._by_kind[ref.kind].get(ref.id, ())):
                if not conn.closed:
                    conn.close(code)
                    closed += 1
        if closed:
            log.info("closed %d sockets: %s", closed, event.reason)
        return closed
