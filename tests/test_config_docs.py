"""docs/configuration.md is what scripts/config_docs.py makes of the settings model, the catalog and
the shipped stacks: every key, service and host port is on it, so it cannot drift from the program.
"""

from pathlib import Path

import pytest

from components import catalog
from components.settings import NAMESPACE, Settings
from harness.offline import Deployment
from scripts import config_docs

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"
FIXTURES = {"dev": "dev", "prod": "prod", "e2e": "e2e_mocked"}  # conftest's cached runs of each stack


@pytest.fixture
def generated(request: pytest.FixtureRequest) -> str:
    """The page as the generator makes it now, from conftest's runs of the shipped stacks."""
    assert set(config_docs.STACKS) == set(FIXTURES), "a stack file was added: give its mocked run a fixture here"

    def deployment(stack: str) -> Deployment:
        return request.getfixturevalue(FIXTURES[stack])

    return config_docs.render(deployment)


def test_configuration_md_is_what_the_model_generates(generated):
    assert PAGE.read_text() == generated, (
        "docs/configuration.md differs from components/settings.py, components/catalog.py or the stacks: "
        "run `make config-schema`"
    )


def test_every_key_service_and_port_is_on_the_page(generated):
    for name, field in Settings.model_fields.items():
        assert f"### `{NAMESPACE}:{field.alias or name}`" in generated
    for service in catalog.SERVICES:
        assert f"| `{service}`" in generated
    for port in catalog.ALL_PORT_NAMES:
        assert f"\n| {port} | {catalog.port_owner(port)} |" in generated


def test_every_published_port_names_the_container_port_behind_it(generated):
    """The container ports are read from the program under mocks; every port of the catalog is
    published by one of the shipped stacks, so none is left without one."""
    assert "not in a shipped stack" not in generated
    assert "| postgres-primary | haproxy | 5432 | `haproxy:5000` |" in generated


def test_a_stale_page_is_noticed(generated, tmp_path, monkeypatch):
    """--check fails on a page that is not the generated one, and --write makes it so."""
    page = tmp_path / "configuration.md"
    page.write_text(generated.replace(f"`{NAMESPACE}:prefix`", f"`{NAMESPACE}:renamed`"))
    monkeypatch.setattr(config_docs, "PAGE", page)
    monkeypatch.setattr(config_docs, "render", lambda: generated)
    assert config_docs.main(["--check"]) == 1
    assert config_docs.main(["--write"]) == 0
    assert page.read_text() == generated
    assert config_docs.main(["--check"]) == 0


def test_a_model_value_in_a_markdown_table_or_prose_stays_text():
    assert config_docs.cell("a | b") == "a \\| b"
    assert config_docs.prose("postgres:<major> and `x:<y>`") == "postgres:\\<major> and `x:<y>`"
    assert config_docs.code({"cpus": 16.0, "memory": "64g"}) == "`{cpus: 16, memory: 64g}`"
    assert config_docs.code("1.0.0") == "`1.0.0`"
    assert config_docs.code(True) == "`true`"
