"""One set of versions: pyproject.toml's ranges, resolved once into uv.lock, installed by `make test`.

requirements.txt exists because Pulumi's pip toolchain installs the program's venv from it
(`pulumi install`, or `pulumi up` on a fresh clone); it is exported from uv.lock by `make lock`.
"""

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from required_tools import missing_tool

ROOT = Path(__file__).resolve().parent.parent
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
LOCKED = {canonicalize_name(package["name"]): package["version"] for package in LOCK["package"] if "version" in package}


def requirement_lines(text: str) -> list[Requirement]:
    """The requirements of a pip requirements file, hashes and comments left out."""
    lines = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        lines.append(Requirement(line.split(" --hash", 1)[0].strip()))
    return lines


def uv() -> str:
    tool = Path(sys.executable).parent / "uv"
    if not tool.is_file():
        missing_tool("uv is not installed in this venv (make venv installs it from uv.lock)")
    return str(tool)


def test_requirements_txt_is_exported_from_the_lock():
    exported = subprocess.run(
        [uv(), "export", "--frozen", "--no-dev", "--no-emit-project", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ours = (ROOT / "requirements.txt").read_text()

    def body(text: str) -> list[str]:  # all but the line that records the command
        return [line for line in text.splitlines() if not line.startswith("#    uv export")]

    assert body(ours) == body(exported), "requirements.txt is not uv.lock's export: run `make lock`"


def test_requirements_txt_pins_every_program_dependency_to_the_lock():
    pinned = {canonicalize_name(r.name): r for r in requirement_lines((ROOT / "requirements.txt").read_text())}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in map(Requirement, project["dependencies"]):
        name = canonicalize_name(dependency.name)
        assert name in pinned, f"{dependency.name} is missing from requirements.txt: run `make lock`"
        (version,) = (spec.version for spec in pinned[name].specifier)
        assert version == LOCKED[name]
        assert dependency.specifier.contains(version, prereleases=True)


def test_the_venv_runs_the_locked_versions():
    """What `make test` installs is what uv.lock says, so a run next month installs what passed today."""
    for requirement in requirement_lines((ROOT / "requirements.txt").read_text()):
        if requirement.marker and not requirement.marker.evaluate():
            continue
        (pin,) = requirement.specifier
        installed = importlib.metadata.version(requirement.name)
        assert installed == pin.version, (
            f"{requirement.name} {installed} is installed, uv.lock has {pin.version}: make venv"
        )


def test_the_policy_pack_accepts_the_locked_sdks():
    """policy/ has a venv of its own (Pulumi installs policy/requirements.txt there); its ranges must
    admit the versions the tests check its rules with."""
    for requirement in requirement_lines((ROOT / "policy" / "requirements.txt").read_text()):
        version = LOCKED[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), f"policy/requirements.txt: {requirement} excludes {version}"


def test_requirement_lines_reads_hashes_and_markers():
    text = 'a==1.0 \\\n    --hash=sha256:00\n    # via b\nc==2.0 ; sys_platform == "win32" \\\n    --hash=sha256:11\n'
    assert [str(r) for r in requirement_lines(text)] == ["a==1.0", 'c==2.0; sys_platform == "win32"']
