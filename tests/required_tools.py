"""What a test does when a program it checks with is not installed.

Locally such a test is skipped with the reason; with DATALYPTICA_REQUIRE_TOOLS=1 (CI, after
.ci/install.d/ ran) it fails instead, so a broken install can never pass as a skip.
"""

import os

import pytest


def tools_required() -> bool:
    return os.environ.get("DATALYPTICA_REQUIRE_TOOLS") == "1"


def missing_tool(reason: str) -> None:
    if tools_required():
        pytest.fail(f"{reason} (required: DATALYPTICA_REQUIRE_TOOLS=1)", pytrace=False)
    pytest.skip(reason)
