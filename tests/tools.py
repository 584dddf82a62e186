"""Where the checkers that .ci/install.d/ installs live, and Java properties as Trino reads them."""

import shutil
from pathlib import Path

DBT_VENV = Path("/opt/dbt-venv")  # .ci/install.d/30-query.sh
GX_VENV = Path("/opt/gx-venv")  # .ci/install.d/35-quality.sh


def venv_tool(venv: Path, name: str) -> str | None:
    tool = venv / "bin" / name
    return str(tool) if tool.is_file() else shutil.which(name)


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
