"""The GitHub Actions workflows pass actionlint and zizmor, pin every action, and ask for least privilege."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from required_tools import missing_tool

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# `uses: owner/repo@<40 hex> # vX.Y.Z`: a commit cannot move, the comment says which release it is.
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(?:\.\d+)*$")


def tool(name: str, built: Path | None = None) -> str:
    if built is not None and built.is_file():
        return str(built)
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        missing_tool(f"{name} is not installed (make tools builds actionlint; make venv installs zizmor)")
    return found


def test_there_are_workflows():
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "preview.yml"}


def test_actionlint_accepts_the_workflows():
    actionlint = tool("actionlint", ROOT / "build" / "bin" / "actionlint")
    result = subprocess.run([actionlint, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    zizmor = tool("zizmor")
    result = subprocess.run(
        [zizmor, "--offline", "--no-progress", "--format=plain", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit(workflow):
    uses = [line for line in workflow.read_text().splitlines() if re.match(r"^\s*(?:-\s+)?uses:", line)]
    assert uses
    assert [line for line in uses if not PINNED.match(line)] == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_are_granted_per_job_only(workflow):
    document = yaml.safe_load(workflow.read_text())
    assert document["permissions"] == {}, "the workflow grants nothing; each job asks for what it needs"
    for name, job in document["jobs"].items():
        assert "permissions" in job, f"job {name} inherits permissions"
        assert job["permissions"].get("contents") in ("read", None), f"job {name} can write the repository"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_secrets_come_from_the_repositorys_secrets(workflow):
    text = workflow.read_text()
    assert "pull_request_target" not in text, "a fork's code would run with the repository's secrets"
    for expression in re.findall(r"\$\{\{\s*(secrets\.[^}]*)\}\}", text):
        assert re.fullmatch(r"secrets\.[A-Z][A-Z0-9_]* ", expression), expression


def test_the_pin_check_refuses_a_tag():
    assert not PINNED.match("      - uses: actions/checkout@v7")
    assert not PINNED.match("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1")
    assert PINNED.match("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1")
