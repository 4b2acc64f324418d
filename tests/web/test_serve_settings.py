"""What ``inviaro serve`` sets up around the app for a busy process: the garbage collector
tuned for serving, and no access log unless asked for (web.server)."""

from __future__ import annotations

import os
import subprocess
import sys

# `inviaro serve`, up to the point where uvicorn would start serving forever: there the
# program prints what the server was set up with and returns.
PROGRAM = """
import gc, logging, sys
import uvicorn
from web.cli import main

def report(server, *args, **kwargs):
    access = logging.getLogger("uvicorn.access").hasHandlers()
    print(gc.get_freeze_count(), gc.get_threshold()[0], server.config.access_log, access)

uvicorn.Server.run = report
print(gc.get_freeze_count(), gc.get_threshold()[0])
main(["--log-level", "info", "serve", "--port", "0", *sys.argv[1:]])
"""


def serve(*args: str) -> list[list[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": "sqlite+aiosqlite:///:memory:",
        "INVIARO_SECRET_KEY": "serve-settings-test-key-that-is-long-enough-0123456789",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, env=env, check=True
    )
    return [line.split() for line in done.stdout.splitlines() if line and line[0].isdigit()]


def test_serve_freezes_what_start_up_built_and_collects_young_objects_less_often() -> None:
    (frozen_before, young_before), (frozen, young, *_) = serve()
    assert (int(frozen_before), int(young_before)) == (0, 700)  # Python's defaults
    assert int(frozen) > 50_000  # modules, the app, its routes, SQLAlchemy's mappers
    assert int(young) == 10_000


def test_serve_writes_no_access_log_line_per_request_unless_asked() -> None:
    *_, (_, _, access_log, handlers) = serve()
    assert (access_log, handlers) == ("False", "False")
    *_, (_, _, access_log, handlers) = serve("--access-log")
    assert (access_log, handlers) == ("True", "True")
