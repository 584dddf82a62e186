"""The docker CLI, pointed at the tests' own daemon and nothing else (for the stand-ins' checks).

Test modules that use it depend on the `standins` fixture (tests/live/conftest.py), which starts
the daemon and builds every stand-in first.
"""

from __future__ import annotations

import subprocess

from tests.live.dockerd import TestDaemon
from tests.live.standins import DOCKER


def docker(
    *args: str, check: bool = True, timeout: float = 300, stdin: bytes | None = None, text: bool = True
) -> subprocess.CompletedProcess:
    """Run `docker ARGS` against the test daemon; with `check`, fail the test on a non-zero exit."""
    result = subprocess.run(
        [DOCKER, *args],
        env=TestDaemon().env(),
        capture_output=True,
        timeout=timeout,
        input=stdin if stdin is not None else None,
        text=text and stdin is None,
    )
    if check and result.returncode != 0:
        out = result.stdout if isinstance(result.stdout, str) else result.stdout.decode(errors="replace")
        err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode(errors="replace")
        raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{out[-2000:]}{err[-3000:]}")
    return result
