"""Scenario C': one message per ``POST /api/ingest`` request at a fixed rate, as channel
webhooks arrive (many senders, every message from a contact the hub has not seen).

    .venv/bin/python bench/ingest_rate.py --url http://127.0.0.1:8000 --rate 1000
    .venv/bin/python bench/ingest_rate.py --url ... --search     # requests/s at p99 < 50 ms

It signs up a workspace with a custom channel, then sends ``--rate`` requests a second for
``--duration`` seconds over ``--connections`` keep-alive connections (open loop: a
request is due at its scheduled time whether or not earlier ones were answered, and its
latency counts from that time, so a slow server cannot hide its queue). Every request is
then waited for, up to ``--drain`` seconds after the last send, and counted once:

- acknowledged (202) within ``--late-ms``: its latency goes into p50/p99;
- late: acknowledged, but after ``--late-ms`` (a sender would have timed out and retried);
- refused: answered 429 or 503 (the sender must retry);
- lost: anything else (an error status, a broken connection, no answer by the drain).

With ``--door whatsapp`` the same load arrives as signed WhatsApp Cloud API webhooks
(``POST /webhooks/meta/{channel}``, one text message each, answered 200) instead.

With ``--server-pid`` (the hub under load, on this machine) it reports the server's CPU
per request. The generator's own failures (a connection it could not open) are counted,
never hidden. Loopback only; bounded in time; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

MAX_RATE = 20_000
MAX_DURATION_S = 120.0
SEARCH_RATES = (500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000)
DOORS = ("ingest", "whatsapp")
PHONE_NUMBER_ID = "1122334455667"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


async def setup(url: str, door: str = "ingest") -> tuple[str, str]:
    """A fresh workspace's channel for ``door``: (channel id, ingest token or app secret)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        r = await client.post(
            "/api/signup",
            json={
                "workspace": "C' bench",
                "name": "Bench",
                "password": uuid.uuid4().hex,
                "email": f"cprime-{uuid.uuid4().hex[:10]}@example.com",
            },
        )
        r.raise_for_status()
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        if door == "whatsapp":
            secret = uuid.uuid4().hex
            config = {
                "phone_number_id": PHONE_NUMBER_ID,
                "access_token": uuid.uuid4().hex,
                "app_secret": secret,
                "verify_token": uuid.uuid4().hex,
            }
            body = {"kind": "whatsapp", "name": "C' WhatsApp", "config": config}
        else:
            body = {"kind": "custom", "name": "C'", "config": {}}
        ch = await client.post("/api/channels", headers=csrf, json=body)
        ch.raise_for_status()
        if door == "whatsapp":
            return str(ch.json()["id"]), secret
        return str(ch.json()["id"]), str(ch.json()["ingest_token"])


def _ingest_body(tag: str, n: int, sender: int) -> bytes:
    return orjson.dumps(
        {
            "messages": [
                {
                    "external_id": f"{tag}-{n}",
                    "contact": {"external_id": f"{tag}-contact-{sender}"},
                    "text": f"C' message {n}",
                }
            ]
        }
    )


def _whatsapp_body(tag: str, n: int, sender: int) -> bytes:
    """One text message as the WhatsApp Cloud API posts it."""
    wa_id = f"{sender}{tag}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Sender {sender}"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": f"wamid.{tag}-{n}",
                "timestamp": str(int(time.time())),
                "text": {"body": f"C' message {n}"},
                "type": "text",
            }
        ],
    }
    return orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
        }
    )


class Conn:
    """One keep-alive HTTP/1.1 connection, one request at a time: a few microseconds of
    client CPU per request where httpx spends hundreds, so the generator is not the limit."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, head: bytes, body: bytes) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status_and_headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(status_and_headers[9:12])
        length = 0
        close = False
        for line in status_and_headers.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _drive(
    url: str,
    channel_id: str,
    token: str,
    rate: float,
    duration: float,
    connections: int,
    drain: float,
    late_s: float,
    tag: str,
    contacts: int,
    door: str = "ingest",
) -> dict[str, Any]:
    """Send at ``rate`` for ``duration`` s; wait for every answer up to ``drain`` s more."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if door == "whatsapp":
        head = (
            f"POST /webhooks/meta/{channel_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        ok, build = 200, _whatsapp_body
    else:
        head = (
            f"POST /api/ingest/{channel_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        ok, build = 202, _ingest_body
    secret = token.encode()
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Conn(host, port))
    counts = {"acked": 0, "late": 0, "refused": 0, "lost": 0, "generator_errors": 0}
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    pending: set[asyncio.Task[None]] = set()

    async def one(n: int, due: float) -> None:
        sender = n % contacts if contacts else n
        body = build(tag, n, sender)
        signed = head
        if door == "whatsapp":
            digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
            signed = head + f"X-Hub-Signature-256: sha256={digest}\r\n".encode()
        conn = await idle.get()
        try:
            status = await conn.post(signed, body)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as err:
            conn.close()  # the server broke the connection or never answered properly
            key = type(err).__name__
            statuses[key] = statuses.get(key, 0) + 1
            counts["lost"] += 1
            return
        except Exception as err:  # the generator's own fault: counted, never hidden
            conn.close()
            key = f"generator:{type(err).__name__}"
            statuses[key] = statuses.get(key, 0) + 1
            counts["generator_errors"] += 1
            return
        finally:
            idle.put_nowait(conn)
        took = time.perf_counter() - due
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == ok:
            if took <= late_s:
                counts["acked"] += 1
                latencies.append(took)
            else:
                counts["late"] += 1
        elif status in (429, 503):
            counts["refused"] += 1
        else:
            counts["lost"] += 1

    begin = time.perf_counter()
    until = begin + duration
    n = 0
    while (now := time.perf_counter()) < until:
        due_count = int((now - begin) * rate) + 1
        while n < due_count:
            task = asyncio.ensure_future(one(n, begin + n / rate))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        await asyncio.sleep(min(0.002, 1 / rate))
    sent_s = time.perf_counter() - begin
    if pending:
        _, late = await asyncio.wait(set(pending), timeout=drain)
        for task in late:  # never answered within the drain
            task.cancel()
        counts["lost"] += len(late)
        statuses["unanswered"] = len(late)
    while not idle.empty():
        idle.get_nowait().close()
    return {
        "sent": n,
        "send_seconds": round(sent_s, 3),
        **counts,
        "statuses": statuses,
        "latencies": latencies,
    }


def _share_main(args: tuple[Any, ...], out: Any) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        out.put(asyncio.run(_drive(*args)))
    except BaseException as err:
        out.put({"failed": f"{type(err).__name__}: {err}"})


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def measure(
    url: str,
    channel_id: str,
    token: str,
    rate: float,
    duration: float,
    *,
    connections: int = 64,
    procs: int = 2,
    drain: float = 60.0,
    late_ms: float = 1000.0,
    server_pids: list[int] | None = None,
    contacts: int = 0,
    door: str = "ingest",
) -> dict[str, Any]:
    """One run at ``rate`` requests/s split over ``procs`` generator processes."""
    rate = min(rate, MAX_RATE)
    duration = min(duration, MAX_DURATION_S)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    tag = uuid.uuid4().hex[:8]
    pids = server_pids or []
    cpu_before = sum(cpu_seconds(p) for p in pids)
    workers = [
        ctx.Process(
            target=_share_main,
            args=(
                (
                    url,
                    channel_id,
                    token,
                    rate / procs,
                    duration,
                    max(1, connections // procs),
                    drain,
                    late_ms / 1000,
                    f"{tag}{i}",
                    contacts,
                    door,
                ),
                out,
            ),
            daemon=True,
        )
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    shares = [out.get(timeout=duration + drain + 60) for _ in workers]
    for w in workers:
        w.join(10)
        if w.is_alive():
            w.kill()
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    failed = [s["failed"] for s in shares if "failed" in s]
    if failed:
        raise RuntimeError(f"a generator process failed: {failed[0]}")
    latencies = [x for s in shares for x in s["latencies"]]
    statuses: dict[str, int] = {}
    for s in shares:
        for k, v in s["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    keys = ("sent", "acked", "late", "refused", "lost", "generator_errors")
    summed = {k: sum(int(s[k]) for s in shares) for k in keys}
    send_s = max(s["send_seconds"] for s in shares)
    answered = summed["acked"] + summed["late"] + summed["refused"]
    return {
        "door": door,
        "rate": rate,
        "duration": duration,
        "connections": connections,
        "generator_procs": procs,
        "contacts": contacts or "a new one per message",
        **summed,
        "offered_per_s": round(summed["sent"] / send_s, 1) if send_s else None,
        "p50_ms": _quantile(latencies, 0.5),
        "p99_ms": _quantile(latencies, 0.99),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "late_ms": late_ms,
        "statuses": statuses,
        "server_cpu_seconds": round(cpu, 3) if pids else None,
        "server_cpu_us_per_request": round(cpu / answered * 1e6, 1) if pids and answered else None,
        "server_cpu_share": round(cpu / (send_s + 0.001), 3) if pids else None,
    }


def good(result: dict[str, Any], p99_ms: float = 50.0) -> bool:
    """Met: p99 under ``p99_ms`` and nothing late, refused or lost."""
    p99 = result["p99_ms"]
    return (
        p99 is not None
        and p99 < p99_ms
        and not (result["late"] or result["refused"] or result["lost"])
    )


def search(url: str, channel_id: str, token: str, duration: float, **kw: Any) -> dict[str, Any]:
    """The highest rate of :data:`SEARCH_RATES` met (see :func:`good`), stopping at the
    first one missed; every step's result is kept."""
    steps = []
    best = 0.0
    for rate in SEARCH_RATES:
        result = measure(url, channel_id, token, rate, duration, **kw)
        steps.append(result | {"latencies": None})
        print(_line(result), file=sys.stderr, flush=True)
        if not good(result):
            break
        best = rate
    return {"best_rate_p99_under_50ms": best, "steps": steps}


def _line(r: dict[str, Any]) -> str:
    return (
        f"  {r['rate']:>6.0f}/s: sent {r['sent']}, acked {r['acked']}, late {r['late']}, "
        f"refused {r['refused']}, lost {r['lost']}; p50 {r['p50_ms']} ms, p99 {r['p99_ms']} "
        f"ms; server {r['server_cpu_us_per_request']} µs CPU/request, "
        f"{r['server_cpu_share']} of a core"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", required=True, help="one hub process (loopback)")
    p.add_argument("--rate", type=float, default=1000.0, help="requests (= messages) a second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    p.add_argument("--connections", type=int, default=64, help="keep-alive senders")
    p.add_argument("--procs", type=int, default=2, help="generator processes")
    p.add_argument("--drain", type=float, default=60.0, help="seconds to wait for answers")
    p.add_argument("--late-ms", type=float, default=1000.0, help="an ack later than this is late")
    p.add_argument(
        "--contacts",
        type=int,
        default=0,
        help="senders per generator process, reused (default 0: every message a new contact)",
    )
    p.add_argument("--door", choices=DOORS, default="ingest", help="ingest API or WhatsApp webhook")
    p.add_argument("--server-pid", type=int, action="append", default=[])
    p.add_argument("--search", action="store_true", help="requests/s at p99 < 50 ms")
    p.add_argument("--json", help="write the result here")
    a = p.parse_args()
    host = urlsplit(a.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("bench: loopback only")
    url = a.url.rstrip("/")
    channel_id, token = asyncio.run(setup(url, a.door))
    kw: dict[str, Any] = {
        "connections": a.connections,
        "procs": a.procs,
        "drain": a.drain,
        "late_ms": a.late_ms,
        "server_pids": a.server_pid,
        "contacts": a.contacts,
        "door": a.door,
    }
    if a.search:
        result = search(url, channel_id, token, a.duration, **kw)
    else:
        result = measure(url, channel_id, token, a.rate, a.duration, **kw)
        result.pop("latencies", None)
        print(_line(result), file=sys.stderr)
    print(json.dumps(result, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
