"""The tests' own Docker Engine's process handling, without a daemon (tests/live/dockerd.py)."""

import os
import subprocess
import time
from pathlib import Path

from tests.live.dockerd import _alive


def state(pid: int) -> str:
    """The process's state letter in /proc/<pid>/stat (after its name in parentheses)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_child_that_exited_is_not_alive_though_it_is_a_zombie():
    child = subprocess.Popen(["true"])  # never waited for, as the daemon's Popen is not
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and state(child.pid) != "Z":
        time.sleep(0.05)
    assert os.path.exists(f"/proc/{child.pid}")  # the zombie keeps its /proc entry

    assert not _alive(child.pid)
    assert not os.path.exists(f"/proc/{child.pid}")  # reaped


def test_a_running_child_and_a_process_that_is_not_ours_are_alive():
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert _alive(child.pid)
        assert _alive(os.getppid())  # not our child: only /proc says
    finally:
        child.kill()
        child.wait()
