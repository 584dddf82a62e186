"""Everything the real `pulumi` needs before a test runs it, made once per machine and cached.

`engine_tools()`: the CLI and the docker and random providers built from Go modules
(tests/engine/tooling.py), our Python language host and the stand-in PostgreSQL provider beside
the CLI, and a PULUMI_HOME with the providers installed as plugins at the versions the pinned
Python SDKs ask for. `policy_pack_with_venv()`: the policy pack's venv, as `pulumi install` in
policy/ makes it from policy/requirements.txt.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.engine import language_host, postgresql_provider, tooling

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policy"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class PreparedEngine:
    cli: Path
    home: Path  # PULUMI_HOME with the plugins installed


@cache
def engine_tools() -> PreparedEngine:
    """Build (or find) the binaries, put the Python plugins beside the CLI, install the providers."""
    tools = tooling.build(log=_log)
    language_host.install(tools.bin_dir, VENV_PYTHON)  # beside the CLI: a bundled language plugin
    home = tools.bin_dir.parent / "home"
    if not all(_installed(home, name, version) for name, version in tools.plugin_versions.items()):
        tooling.install_plugins(home, tools, log=_log)
    # Resource plugins are found only in PULUMI_HOME (or, with a warning, on PATH).
    wrapper = postgresql_provider.install(tools.bin_dir, VENV_PYTHON)
    version = tooling.locked_versions()["pulumi-postgresql"]
    if not _installed(home, "postgresql", version):
        tooling.run_cli(tools, home, "plugin", "install", "resource", "postgresql", version, "--file", str(wrapper))
    return PreparedEngine(tools.cli, home)


def _installed(home: Path, name: str, version: str) -> bool:
    return (home / "plugins" / f"resource-{name}-v{version}").is_dir()


def policy_pack_with_venv() -> Path:
    """policy/ with policy/venv made from policy/requirements.txt (uv, at the version uv.lock pins),
    made again only when the requirements change."""
    venv = POLICY_DIR / "venv"
    requirements = POLICY_DIR / "requirements.txt"
    stamp = venv / ".datalyptica-requirements"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == wanted and (venv / "bin" / "python").exists():
        return POLICY_DIR
    uv = next((ROOT / "build").glob("uv-*/bin/uv"), None)
    if uv is None:
        raise RuntimeError("no uv under build/: run `make venv` first")
    subprocess.run([str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "-r", str(requirements)],
        check=True,
        timeout=900,
    )
    stamp.write_text(wanted)
    return POLICY_DIR


def _log(line: str) -> None:
    print(line, flush=True)
