"""Two checkouts measured in one sitting: each run goes to every ``--tree`` in turn, in a
child process that imports that tree's code, so before and after share the machine's
moods. Used by the benches that take ``--tree`` (``accept_publish.py``,
``cluster_publish.py``, ``pipeline_rounds.py``); a child prints its figures as the last
line of its output, as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent


def interleaved(
    script: str, trees: list[str] | None, runs: int, child_args: list[str]
) -> dict[str, list[Any]]:
    """``script --child *child_args`` ``runs`` times in each of ``trees`` (default: this
    checkout), the trees alternating; each tree's figures in run order."""
    paths = [str(Path(t).resolve()) for t in trees or [CHECKOUT]]
    results: dict[str, list[Any]] = {tree: [] for tree in paths}
    for _ in range(runs):
        for tree in paths:
            done = subprocess.run(
                [sys.executable, script, "--child", *child_args],
                env={**os.environ, "PYTHONPATH": tree},
                cwd=tree,
                capture_output=True,
                text=True,
                check=True,
            )
            results[tree].append(json.loads(done.stdout.splitlines()[-1]))
    return results
