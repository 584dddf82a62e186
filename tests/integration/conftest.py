import pytest

from tests.integration.pgcluster import Tools, find_tools
from tests.required_tools import missing_tool


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: starts real services on 127.0.0.1 (slow; needs .ci/install.d/ tools)"
    )


@pytest.fixture(scope="session")
def pgha_tools() -> Tools:
    tools, missing = find_tools()
    if tools is None:
        missing_tool("PostgreSQL HA tools missing: " + "; ".join(missing) + " (run .ci/install.d/20-pgha.sh)")
    return tools
