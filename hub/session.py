"""One socket's conversation with the hub: what its frames mean for its principal.

The endpoint calls :meth:`Session.open` after the handshake, :meth:`Session.receive` with
every data frame, and :meth:`Session.close` when the socket is gone. Replies are queued on
the socket's :class:`hub.fanout.Connection` in order; nothing here touches a socket.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import assert_never

from hub import frames
from hub.bus import BusUnavailable
from hub.codec import (
    MAX_FRAME_BYTES,
    ClientFrame,
    Ping,
    ProtocolError,
    Read,
    Resume,
    Send,
    Typing,
    decode_client_frame,
    encode,
)
from hub.fanout import Connection, conversation_topic, operator_topic, workspace_topic
from hub.frames import Frame
from hub.model import Attachment, Author, Inbound
from hub.ratelimit import TokenBucket
from hub.service import CLOSE_POLICY, Hub, OperatorPrincipal, Principal, VisitorPrincipal
from hub.store import Gone, NotFound

log = logging.getLogger(__name__)

# Asked before an operator's reply is accepted: None to allow it, or why it may not be sent
# now (a channel's customer-service window has closed, say).
ReplyCheck = Callable[[str], Awaitable[str | None]]

_KNOWN_LIMIT = 1024
# Resumes have their own budget, apart from sends: an operator reconnecting after a restart
# catches up every open conversation at once (a thousand in one burst), then a few a second.
RESUME_BURST = 1000
RESUMES_PER_S = 20


class Session:
    """Dispatch for one authenticated socket (operator or widget visitor).

    One lives as long as its socket, mostly idle: slots, and no set until one is needed.
    Pass one ``reply_check`` shared by every session of the process, not one per socket.
    """

    __slots__ = (
        "_known",
        "_max_frame",
        "_rate",
        "_reply_check",
        "_resumes",
        "conn",
        "hub",
        "principal",
    )

    def __init__(
        self,
        hub: Hub,
        principal: Principal,
        conn: Connection,
        rate: TokenBucket | None = None,
        max_frame: int = MAX_FRAME_BYTES,
        reply_check: ReplyCheck | None = None,
        resume_rate: TokenBucket | None = None,
    ) -> None:
        self.hub = hub
        self._reply_check = reply_check
        self.principal = principal
        self.conn = conn
        self._rate = rate if rate is not None else TokenBucket(rate=20, burst=40)
        self._max_frame = max_frame
        self._known: set[str] | None = None  # conversations this operator is known to own
        self._resumes = resume_rate  # None: made at the first resume (most sockets never do)

    @property
    def _sees_notes(self) -> bool:
        """Operators see private notes; a visitor never does."""
        return isinstance(self.principal, OperatorPrincipal)

    @property
    def _reserved(self) -> bool:
        """A visitor who has not written yet (see :class:`hub.model.Reservation`)."""
        p = self.principal
        return isinstance(p, VisitorPrincipal) and p.reservation is not None

    @property
    def _author(self) -> Author:
        p = self.principal
        if isinstance(p, OperatorPrincipal):
            return Author("operator", p.operator_id, p.name)
        return Author("contact", p.contact_id, p.name)

    async def open(self) -> None:
        """Join this principal's topic, announce presence, queue ``hello``."""
        p, hub = self.principal, self.hub
        self.conn.send_frame(frames.hello(self.conn.id, hub.heartbeat_s))
        hub.track_workspace(p.workspace_id)
        if isinstance(p, VisitorPrincipal):
            await hub.registry.join(
                self.conn, conversation_topic(p.workspace_id, p.conversation_id)
            )
            return
        await hub.registry.join(self.conn, workspace_topic(p.workspace_id))
        await hub.registry.join(self.conn, operator_topic(p.workspace_id, p.operator_id))
        try:
            changed = await hub.presence.online(p.workspace_id, p.operator_id, self.conn.id)
            if changed:  # this socket hears it too: it already joined the topic
                await hub.publish_presence(p.workspace_id, p.operator_id, True)
            for operator_id in sorted(await hub.presence.who(p.workspace_id)):
                if not (changed and operator_id == p.operator_id):
                    await self.conn.reply(frames.presence(operator_id, True))
        except BusUnavailable as err:
            log.warning("presence unavailable: %s", err)

    async def close(self) -> None:
        """The socket is gone: leave topics, stop the writer, announce presence."""
        p, hub = self.principal, self.hub
        await hub.registry.disconnect(self.conn)
        hub.untrack_workspace(p.workspace_id)
        if isinstance(p, OperatorPrincipal):
            try:
                if await hub.presence.offline(p.workspace_id, p.operator_id, self.conn.id):
                    await hub.publish_presence(p.workspace_id, p.operator_id, False)
            except BusUnavailable as err:
                log.warning("presence unavailable: %s", err)

    async def receive(self, data: str | bytes) -> None:
        """Handle one data frame from the socket and queue the replies.

        Oversized frames close the socket with 1009 and an erased conversation with 1008;
        every other refusal is an ``error`` frame. Store failures propagate: the web layer
        closes with 1013 when storage is unavailable (:class:`hub.store.Unavailable`), else 1011.
        Replies are paced: a socket whose requests outrun its reading waits for room
        before its next frame is read, and is never cut off for it.
        """
        try:
            frame = decode_client_frame(data, self.conn.fmt, self._max_frame)
        except ProtocolError as err:
            if err.close_code is not None:
                self.conn.close(err.close_code)
            else:
                await self.conn.reply(frames.error(err.code, err.detail, err.ref))
            return
        if isinstance(frame, Resume):
            await self._stream_replay(frame)
            return
        try:
            replies = await self.handle(frame)
        except Gone:
            self.conn.close(CLOSE_POLICY)
            return
        for reply in replies:
            await self.conn.reply(reply)

    def _allow(self, frame: ClientFrame) -> bool:
        """Pings are free; resumes spend their own budget; everything else the frame budget."""
        if isinstance(frame, Ping):
            return True
        if isinstance(frame, Resume):
            if self._resumes is None:
                self._resumes = TokenBucket(rate=RESUMES_PER_S, burst=RESUME_BURST)
            return self._resumes.allow()
        return self._rate.allow()

    @staticmethod
    def _rate_limited(frame: ClientFrame) -> Frame:
        if isinstance(frame, Resume):  # one of many, maybe: say which
            conv = frame.conversation_id
            return frames.error("rate_limited", "too many resumes; slow down", None, conv)
        ref = frame.ref if isinstance(frame, Send) else None
        return frames.error("rate_limited", "too many frames; slow down", ref)

    async def handle(self, frame: Send | Typing | Read | Ping) -> list[Frame]:
        """The replies to one decoded frame other than a resume, which streams its replies
        itself (:meth:`_stream_replay`); may raise :class:`hub.store.Gone`."""
        ref = frame.ref if isinstance(frame, Send) else None
        if not self._allow(frame):
            return [self._rate_limited(frame)]
        try:
            if isinstance(frame, Send):
                return await self._send(frame)
            if isinstance(frame, Typing):
                conv = await self._conversation(frame.conversation_id)
                if self._reserved:
                    return []  # no conversation to type in until the first message
                await self.hub.publish_typing(
                    self.principal.workspace_id, conv, self._author, frame.active
                )
                return []
            if isinstance(frame, Read):
                return await self._read(frame)
            if isinstance(frame, Ping):
                return [frames.pong()]
            assert_never(frame)
        except ProtocolError as err:
            return [frames.error(err.code, err.detail, ref)]
        except NotFound:
            return [frames.error("not_found", "no such conversation", ref)]

    async def _send(self, frame: Send) -> list[Frame]:
        p = self.principal
        conv = await self._conversation(frame.conversation_id)
        attachments = await self._attachments(conv, frame.attachments, frame.private)
        if isinstance(p, VisitorPrincipal):
            if frame.private:
                raise ProtocolError("forbidden", "only operators write private notes")
            if self.hub.consent_check is not None:
                refusal = await self.hub.consent_check(p)
                if refusal is not None:
                    return [frames.error("consent_required", refusal, frame.ref)]
            inbound = Inbound(
                workspace_id=p.workspace_id,
                channel_id=p.channel_id,
                direction="in",
                author=self._author,
                text=frame.text,
                attachments=attachments,
                conversation_id=conv,
                client_id=frame.client_id,
                payload=None if frame.option is None else {"option": frame.option},
                reservation=p.reservation,
            )
        else:
            if self._reply_check is not None and not frame.private:
                refusal = await self._reply_check(conv)
                if refusal is not None:
                    return [frames.error("window_closed", refusal, frame.ref)]
            if self.hub.objection_check is not None:
                objection = await self.hub.objection_check(conv, frame.confirm_objection is True)
                if objection is not None:
                    return [frames.error("contact_objected", objection, frame.ref)]
            # The store takes the channel from the conversation when conversation_id is set.
            inbound = Inbound(
                workspace_id=p.workspace_id,
                channel_id="",
                direction="out",
                author=self._author,
                text=frame.text,
                attachments=attachments,
                conversation_id=conv,
                client_id=frame.client_id,
                status="queued",
                private=frame.private,
            )
        result = await self.hub.accept(inbound)
        if isinstance(p, VisitorPrincipal) and p.reservation is not None:
            self.principal = replace(p, reservation=None)  # stored now, with its contact
        self._remember(conv)
        return [frames.ack(frame.ref, result.message)]

    async def _attachments(
        self, conv: str, media_ids: tuple[str, ...], private: bool
    ) -> tuple[Attachment, ...]:
        """The files a send names, each one uploaded into this conversation."""
        if not media_ids:
            return ()
        resolve = self.hub.resolve_attachments
        if resolve is None:
            raise ProtocolError("bad_frame", "this hub keeps no files")
        try:
            return await resolve(self.principal.workspace_id, conv, media_ids, private)
        except LookupError:
            raise ProtocolError("not_found", "no such file in this conversation") from None

    async def _read(self, frame: Read) -> list[Frame]:
        p = self.principal
        conv = await self._conversation(frame.conversation_id)
        if isinstance(p, VisitorPrincipal) and p.reservation is None:
            receipts = await self.hub.store.mark_read(p.workspace_id, conv, frame.seq)
            await self.hub.publish_receipts(receipts)
        return []  # an operator's read marks nothing the contract shows yet

    async def _stream_replay(self, frame: Resume) -> None:
        # Paced, so a long history never overflows this socket's queue (and never waits
        # on anyone else's socket).
        if not self._allow(frame):
            await self.conn.reply(self._rate_limited(frame))
            return
        try:
            conv = await self._conversation(frame.conversation_id)
            last: int | None = None
            workspace_id = self.principal.workspace_id
            pages = self.hub.replay_pages(
                workspace_id, conv, frame.after_seq, include_private=self._sees_notes
            )
            async for page in pages:
                for msg in page:
                    await self.conn.push_paced(encode(frames.message(msg), self.conn.fmt))
                last = page[-1].seq
            if last is None:
                # Nothing missed: the conversation's own last seq (behind the client's when
                # the client is ahead), never the client's number echoed back.
                last = await self.hub.store.last_seq(workspace_id, conv)
        except ProtocolError as err:
            await self.conn.reply(frames.error(err.code, err.detail, None, frame.conversation_id))
            return
        except NotFound:
            p = self.principal
            if isinstance(p, VisitorPrincipal) and p.reservation is not None:
                # Nothing written yet: the visitor's conversation is empty.
                await self.conn.reply(frames.resumed(p.conversation_id, 0))
                return
            conv_id = frame.conversation_id
            await self.conn.reply(frames.error("not_found", "no such conversation", None, conv_id))
            return
        self._remember(conv)
        await self.conn.reply(frames.resumed(conv, last))

    async def _conversation(self, conversation_id: str | None) -> str:
        """The conversation a frame is about, checked against the principal."""
        p = self.principal
        if isinstance(p, VisitorPrincipal):
            if conversation_id is not None and conversation_id != p.conversation_id:
                raise ProtocolError("forbidden", "a visitor opens only its own conversation")
            return p.conversation_id
        if conversation_id is None:
            raise ProtocolError("bad_frame", "conversation_id is required")
        if self._known is None or conversation_id not in self._known:
            # Typing and read publish without touching the store, so prove ownership first.
            await self.hub.store.check_owner(p.workspace_id, conversation_id)
            self._remember(conversation_id)
        return conversation_id

    def _remember(self, conversation_id: str) -> None:
        if self._known is None or len(self._known) >= _KNOWN_LIMIT:
            self._known = {conversation_id}
        else:
            self._known.add(conversation_id)
