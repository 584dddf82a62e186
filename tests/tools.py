"""Small helpers tests share: where the checkers live, Java properties as Trino reads them, settings refusals."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.settings import SettingsError, load_settings
from tests.required_tools import missing_tool

DBT_VENV = Path("/opt/dbt-venv")  # .ci/install.d/30-query.sh
GX_VENV = Path("/opt/gx-venv")  # .ci/install.d/35-quality.sh


def venv_tool(venv: Path, name: str) -> str | None:
    tool = venv / "bin" / name
    return str(tool) if tool.is_file() else shutil.which(name)


def find_dbt() -> str:
    dbt = venv_tool(DBT_VENV, "dbt")
    if dbt is None:
        missing_tool("dbt (dbt-trino) not installed (run .ci/install.d/30-query.sh)")
    return dbt


def dbt_list(dbt: str, project: Path, profiles_dir: Path, scratch: Path) -> dict[str, dict[str, Any]]:
    """`dbt ls` of a project with a profile: each node by name (its type, database, schema, config),
    dbt's own output kept in `scratch`."""
    output = ["--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")]
    listing = ["--output", "json", "--output-keys", "name resource_type database schema config"]
    result = subprocess.run(
        [dbt, "ls", "--project-dir", str(project), "--profiles-dir", str(profiles_dir), *output, *listing],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=scratch,
        env={"PATH": str(Path(dbt).parent), "HOME": str(scratch), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    listed = (json.loads(line) for line in result.stdout.splitlines() if line.startswith("{"))
    return {node["name"]: node for node in listed}


def parse_properties(text: str) -> dict[str, str]:
    """key=value lines, `#` and `!` comments, as java.util.Properties reads a file without continuations."""
    properties = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        assert not line.endswith("\\"), f"line continuation not expected: {line!r}"
        key, separator, value = line.partition("=")
        assert separator, f"not a key=value line: {line!r}"
        assert key.strip() not in properties, f"{key.strip()} set twice"
        properties[key.strip()] = value.strip()
    return properties


def refusal(**config) -> str:
    """The message with which settings refuse `config` (given as in a stack file)."""
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    return str(error.value)


def registered_before_refusal(config: dict[str, Any], match: str) -> list[str]:
    """Run the program with `config` (as in a stack file), expect its refusal matching `match`,
    and return the types of the resources registered before it (the stack itself left out)."""
    from harness import offline

    seen: list[str] = []
    original = offline.RecordingMonitor.RegisterResource

    def spy(self: offline.RecordingMonitor, request: Any) -> Any:
        seen.append(request.type)
        return original(self, request)

    offline.RecordingMonitor.RegisterResource = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(pulumi.RunError, match=match):
            offline.run_program(offline.engine_config(config))
    finally:
        offline.RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]
    return [t for t in seen if t != "pulumi:pulumi:Stack"]
