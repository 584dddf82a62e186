import functools
import logging
import sys

import pytest
from pulumi.runtime import reset_options

from harness.offline import ROOT, Deployment, engine_config, pulumi_runtime, run_program, stack_config

sys.path.insert(0, str(ROOT))

# A test that registers resources without mocks would otherwise talk to whatever monitor a
# previous test left behind; start every test from Pulumi's blank state.
reset_options()


class _ExpectedJobFailures(logging.Filter):
    """Drops asyncio's "Future exception was never retrieved" for the one-shot job failures the
    tests cause on purpose (the program raises them inside an Output; pulumi has reported them
    already); any other unretrieved exception is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None and isinstance(getattr(record, "args", None), dict):
            error = record.args.get("exception")
        return not (
            record.getMessage().startswith("Future exception was never retrieved")
            and "pulumi up --replace" in str(error or record.getMessage())
        )


logging.getLogger("asyncio").addFilter(_ExpectedJobFailures())


@pytest.fixture(autouse=True)
def _isolated_pulumi_runtime():
    """Fresh event loop and no mocks left over: Pulumi's runtime settings are process-global."""
    with pulumi_runtime():
        yield


@functools.cache
def _cached_stack(stack: str) -> Deployment:
    return run_program(stack_config(stack), stack=stack)


@pytest.fixture
def dev() -> Deployment:
    """The program run with nothing but Pulumi.dev.yaml (evaluated once per test session)."""
    return _cached_stack("dev")


@pytest.fixture
def prod() -> Deployment:
    return _cached_stack("prod")


@pytest.fixture
def e2e_mocked() -> Deployment:
    """The live tests' stack (Pulumi.e2e.yaml: storage on SeaweedFS) evaluated under mocks."""
    return _cached_stack("e2e")


@pytest.fixture
def deploy():
    """Run the program with a config given as in a stack file, e.g. deploy(layers=["storage"])."""
    return lambda **config: run_program(engine_config(config))
