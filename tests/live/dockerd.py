"""A Docker Engine of the tests' own: started, restarted and stopped by them, by its pid.

It never touches another daemon: it has its own data root, exec root, socket, pidfile and
bridge (a daemon started with `--bridge=none` would delete `docker0`), and the tests reach it
only through its socket, never through DOCKER_HOST. With `--iptables=false --ip-masq=false
--ip-forward=false` no container has a route off this machine; Docker's embedded DNS works on
user-defined and internal networks, and published ports reach 127.0.0.1 through docker-proxy.

    python -m tests.live.dockerd start|stop|status   # a daemon to iterate against by hand

The data root persists between runs on one machine, so stand-in images built once are found
again (they are cached by a hash of their inputs); a fresh machine starts from nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from components.catalog import SERVICES

STATE_DIR = Path(os.environ.get("DATALYPTICA_E2E_STATE", "/var/lib/datalyptica-e2e"))
RUN_DIR = Path("/run/datalyptica-e2e")
BRIDGE = "dle2e0"
BRIDGE_ADDRESS = "10.231.0.1/24"  # the default bridge: containers leave it at once for their own networks
ADDRESS_POOL = "base=10.232.0.0/16,size=24"  # user-defined networks


class DaemonUnavailable(RuntimeError):
    """This machine cannot run the tests' own daemon (not root, no dockerd)."""


@dataclass(frozen=True)
class TestDaemon:
    state_dir: Path = STATE_DIR
    run_dir: Path = RUN_DIR

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "docker.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "dockerd.log"

    @property
    def data_root(self) -> Path:
        return self.state_dir / "docker"

    def env(self) -> dict[str, str]:
        """The environment for a docker CLI that talks to this daemon and nothing else."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return {**env, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}

    def command(self) -> list[str]:
        return [
            "dockerd",
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.run_dir / "exec"),
            "--host",
            self.host,
            "--pidfile",
            str(self.pidfile),
            "--bridge",
            BRIDGE,
            "--storage-driver",
            os.environ.get("DATALYPTICA_E2E_STORAGE_DRIVER", "overlay2"),
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--default-address-pool",
            ADDRESS_POOL,
        ]

    # ---- state -----------------------------------------------------------------------

    def pid(self) -> int | None:
        """The pid of this daemon if it runs: the pidfile's process, and a dockerd on our data root."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        ours = cmdline and cmdline[0].endswith(b"dockerd") and str(self.data_root).encode() in cmdline
        return pid if ours else None

    def answers(self) -> bool:
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0

    # ---- lifecycle -------------------------------------------------------------------

    def check_machine(self) -> None:
        if os.geteuid() != 0:
            raise DaemonUnavailable("the live tests start their own dockerd, which needs root")
        for tool in ("dockerd", "docker", "ip"):
            if shutil.which(tool) is None:
                raise DaemonUnavailable(f"{tool} is not installed (.ci/install.d/10-docker.sh installs it)")

    def start(self, timeout: float = 60) -> bool:
        """Start the daemon unless ours already runs; True when this call started it."""
        self.check_machine()
        if self.pid() is not None:
            # Ours runs: wait for it rather than start a second one on the same pidfile and socket
            # (a second dockerd refuses the pidfile and, exiting, removes the socket the first serves).
            self._wait_until_it_answers(timeout)
            return False
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        self._bridge_up()
        with self.log.open("ab") as log:
            subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_it_answers(timeout)
        return True

    def _wait_until_it_answers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is not None and self.answers():
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"dockerd did not answer on {self.socket} within {timeout:g} s; see {self.log}:\n" + self._log_tail()
        )

    def stop(self, timeout: float = max(defaults.stop_grace_seconds for defaults in SERVICES.values()) + 30) -> None:
        """SIGTERM our daemon by its pid (it stops its containers with their grace periods, so it
        is given the longest of them: killed sooner, it left containerd unanswering at the next
        start, seen with the analytics layer deployed)."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.5)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start(timeout=180)  # containerd restores every container of the stack first

    def _bridge_up(self) -> None:
        if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False).returncode != 0:
            subprocess.run(["ip", "link", "add", "name", BRIDGE, "type", "bridge"], check=True)
            subprocess.run(["ip", "addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _alive(pid: int) -> bool:
    """Whether the process still runs. A daemon this process started stays a zombie after it
    exits until it is reaped, and a zombie keeps its /proc entry: without the reaping, every stop
    waited out its whole timeout (150 s) after dockerd had shut down in under a second."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (started by `python -m tests.live.dockerd start`)
        reaped = 0
    return reaped != pid and Path(f"/proc/{pid}").exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    action = parser.parse_args(argv).action
    daemon = TestDaemon()
    if action == "start":
        started = daemon.start()
        print(f"{'started' if started else 'already running'}: export DOCKER_HOST={daemon.host}")
    elif action == "stop":
        daemon.stop()
        print("stopped")
    else:
        pid = daemon.pid()
        print(f"running, pid {pid}, {daemon.host}" if pid else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
