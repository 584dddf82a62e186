"""Every custom resource of the dev, prod and e2e stacks as the program registers it under mocks:
its URN, type, options and a hash of each input. A stack's state is keyed by URN, so a refactoring
that changes a URN without an alias deletes and re-creates that resource on the next `pulumi up`
(a data volume or a database with it). tests/test_resource_identity.py compares the program with
the recording in tests/fixtures/resources/; after a deliberate change, record again:

    .venv/bin/python -m tests.resource_identity --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from harness.offline import Registered, run_program, stack_config

STACKS = ("dev", "prod", "e2e")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "resources"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def identity(resource: Registered) -> dict[str, Any]:
    return {
        "type": resource.type,
        "parent": resource.parent,
        "protect": resource.protect,
        "retain_on_delete": resource.retain_on_delete,
        "delete_before_replace": resource.delete_before_replace,
        "provider": resource.provider.rpartition("::")[0],
        "inputs": {key: _digest(value) for key, value in sorted(resource.inputs.items())},
    }


def record(stack: str) -> dict[str, dict[str, Any]]:
    """URN -> identity of every custom resource (components are left out: they hold no state)."""
    deployment = run_program(stack_config(stack), stack=stack)
    return {r.urn: identity(r) for r in deployment.registered if not r.type.startswith("datalyptica:")}


def fixture(stack: str) -> Path:
    return FIXTURES / f"{stack}.json"


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print(__doc__)
        return 2
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for stack in STACKS:
        fixture(stack).write_text(json.dumps(record(stack), indent=1, sort_keys=True) + "\n")
        print(f"recorded {fixture(stack)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
