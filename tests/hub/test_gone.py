"""The local index of sockets by what they depend on, and the event that closes them."""

from __future__ import annotations

from hub.bus import MemoryBus
from hub.fanout import Connection, Registry
from hub.gone import Gone, Holders, Ref, gone

OPERATOR = (Ref("workspace", "w1"), Ref("operator", "o1"), Ref("token", "t1"))
VISITOR = (Ref("workspace", "w1"), Ref("channel", "c1"), Ref("conversation", "v1"))


def sockets(count: int) -> list[Connection]:
    registry = Registry(MemoryBus(lambda topic, payload: None))

    async def send(data: str | bytes) -> None:
        return None

    async def close(code: int) -> None:
        return None

    return [registry.connect("json", send, close) for _ in range(count)]


async def test_an_event_closes_exactly_the_sockets_that_depend_on_its_refs() -> None:
    holders = Holders()
    operator, visitor = sockets(2)
    holders.add(operator, OPERATOR)
    holders.add(visitor, VISITOR)
    assert holders.apply(gone("token_revoked", "token", "t1")) == 1
    assert (operator.close_code, visitor.close_code) == (1008, None)
    assert holders.apply(gone("channel_deleted", "channel", "other")) == 0
    assert holders.apply(gone("workspace_deleted", "workspace", "w1")) == 1  # the visitor
    assert visitor.close_code == 1008


async def test_a_removed_socket_leaves_nothing_to_sweep() -> None:
    holders = Holders()
    (conn,) = sockets(1)
    holders.add(conn, VISITOR)
    assert holders.ids("conversation") == ["v1"]
    holders.remove(conn, VISITOR)
    assert [holders.ids(kind) for kind in ("workspace", "channel", "conversation")] == [[], [], []]
    assert holders.apply(Gone("expired", VISITOR)) == 0


def test_a_gone_event_survives_the_bus_and_garbage_does_not() -> None:
    event = gone("token_revoked", "token", "tok_1")
    assert Gone.decode(event.encode()) == Gone("token_revoked", (Ref("token", "tok_1"),))
    for payload in (b"", b"\x93\x01\x02\x03", Gone("logout", (Ref("session", "s"),)).encode()[:3]):
        assert Gone.decode(payload) is None
