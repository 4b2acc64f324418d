"""``inviaro loadtest`` against two real hub processes: it sets up its own workspaces, counts
every delivery, and reports what the performance issue asks for (no timing asserted)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.system.conftest import Cluster, RedisServer

pytestmark = pytest.mark.slow


async def start(*args: str, stdout: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    """``inviaro loadtest`` with ``args``, its stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "web.cli", "loadtest", *args),
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def loadtest(*args: str) -> tuple[int, str, str]:
    proc = await start(*args)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_run_over_two_processes_counts_every_delivery(
    cluster: Cluster, tmp_path: Path
) -> None:
    summary_file = tmp_path / "summary.json"
    args = ["--operators", "20", "--visitors", "2", "--rooms", "2", "--rate", "20"]
    args += ["--duration", "2", "--procs", "2", "--quiet", "--json", str(summary_file)]
    for hub in cluster.hubs:
        assert hub.proc is not None
        args += ["--url", hub.url, "--server-pid", str(hub.proc.pid)]
    code, out, err = await loadtest(*args)
    assert code == 0, err
    s: dict[str, Any] = json.loads(summary_file.read_text())
    assert (s["processes"], s["generator_procs"], s["rooms"]) == (2, 2, 2)
    assert (s["subscribers"], s["senders"], s["connect_errors"]) == (20, 2, 0)
    assert s["acked"] > 0 and s["send_errors"] == 0
    assert s["deliveries"] == s["expected_deliveries"] > 0
    assert s["loss"] == 0.0
    assert 0 < s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["p999_ms"]
    assert not set(s["close_codes"]) & {"1008", "1011", "1013"}
    assert s["server"]["rss_per_socket_kb"] is not None
    assert s["server"]["cpu_us_per_delivery"] > 0
    assert s["generator_cpu_us_per_delivery"] > 0
    for row in ("sockets", "connect", "deliveries", "latency ms", "close codes", "server"):
        assert row in out  # the summary table


async def test_a_run_as_fast_as_acked_counts_every_delivery(
    cluster: Cluster, tmp_path: Path
) -> None:
    summary_file = tmp_path / "summary.json"
    args = ["--url", cluster.hubs[0].url, "--operators", "6", "--visitors", "2"]
    args += ["--rate", "0", "--window", "4", "--duration", "1", "--quiet"]
    code, _, err = await loadtest(*args, "--json", str(summary_file))
    assert code == 0, err
    s: dict[str, Any] = json.loads(summary_file.read_text())
    assert s["acked"] > 0 and s["send_errors"] == 0 and s["generator_errors"] == 0
    assert s["sent"] - s["acked"] <= 2 * 4  # at most a window in flight per visitor
    assert s["deliveries"] == s["expected_deliveries"] == 6 * s["acked"]


async def test_the_socketio_reference_server_is_driven_by_the_same_client(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        *(str(Path(__file__).parents[2] / "bench" / "sio_server.py"), str(port), redis_server.url),
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(timeout=1) as client:
            for _ in range(200):
                try:
                    await client.get(f"http://127.0.0.1:{port}/ready")  # a 404: it answers
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
        summary_file = tmp_path / "summary.json"
        args = ["--url", f"http://127.0.0.1:{port}", "--protocol", "socketio", "--quiet"]
        args += ["--operators", "6", "--visitors", "2", "--rooms", "2", "--rate", "20"]
        code, _, err = await loadtest(*args, "--duration", "1", "--json", str(summary_file))
    finally:
        server.terminate()
        await server.wait()
    assert code == 0, err
    s: dict[str, Any] = json.loads(summary_file.read_text())
    assert (s["subscribers"], s["senders"], s["connect_errors"]) == (6, 2, 0)
    assert s["acked"] > 0 and s["generator_errors"] == 0
    assert s["deliveries"] == s["expected_deliveries"] > 0
    assert s["close_codes"] == {"1000": 6}


async def test_more_sockets_than_the_bound_are_refused_with_a_sentence() -> None:
    code, _, err = await loadtest("--operators", "100001", "--url", "http://127.0.0.1:9")
    assert code != 0
    assert "at most 100000 sockets" in err


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_sigterm_ends_the_load_tester_and_its_generator_processes(
    cluster: Cluster,
) -> None:
    proc = await start(
        *("--url", cluster.hubs[0].url, "--operators", "4", "--visitors", "0"),
        *("--duration", "600", "--procs", "2"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    generators: list[int] = []
    try:
        while b"all sockets open" not in await asyncio.wait_for(proc.stderr.readline(), 120):
            pass
        generators = children(proc.pid)
        assert len(generators) >= 2
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        leftover = [pid for pid in generators if alive(pid)]
        for pid in leftover:  # ours: a failing run must not leave them behind
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert not leftover
