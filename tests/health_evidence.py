"""What each pinned image has to run its health check, and where that was read: the table in
health_evidence.toml (data, so it lives in a data file), read into `HEALTH_CHECK_TOOLS`.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

EVIDENCE_FILE = Path(__file__).with_suffix(".toml")


@dataclass(frozen=True)
class ImageTools:
    tools: frozenset[str]
    evidence: str


def _read(path: Path) -> dict[str, ImageTools]:
    table = tomllib.loads(path.read_text())
    return {service: ImageTools(frozenset(row["tools"]), row["evidence"]) for service, row in table.items()}


HEALTH_CHECK_TOOLS = _read(EVIDENCE_FILE)
