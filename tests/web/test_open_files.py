"""A hub holds one file per socket: serving lifts the soft open-files limit to the hard one."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
from web.server import raise_open_files_limit
print(raise_open_files_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def test_serving_lifts_the_soft_open_files_limit_to_the_hard_one() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    ).stdout.split()
    limit, soft, hard = (int(v) for v in out)
    assert soft == hard == limit
