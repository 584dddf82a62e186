"""Every health check calls a tool its pinned image has (issue 13, point 13): the table in
tests/health_evidence.toml names, per service, the tools and the upstream file that shows them."""

import pytest

from tests.health_evidence import HEALTH_CHECK_TOOLS


def _service(container) -> str:
    return next(label["value"] for label in container.inputs["labels"] if label["label"] == "datalyptica.service")


def _tool(test: list[str]) -> str:
    return test[1] if test[0] == "CMD" else "sh"


@pytest.mark.parametrize("stack", ["dev", "prod", "e2e"])
def test_every_health_check_calls_a_tool_its_image_has(stack, dev, prod, e2e_mocked):
    deployment = {"dev": dev, "prod": prod, "e2e": e2e_mocked}[stack]
    checked = {}
    for container in deployment.containers().values():
        if "healthcheck" in container.inputs:
            service = _service(container)
            assert service in HEALTH_CHECK_TOOLS, f"{service}: no evidence of what its image has"
            checked[service] = _tool(container.inputs["healthcheck"]["tests"])
    wrong = {s: tool for s, tool in checked.items() if tool not in HEALTH_CHECK_TOOLS[s].tools}
    assert wrong == {}
    assert len(checked) >= (5 if stack == "e2e" else 30)


def test_images_without_curl_are_checked_with_what_they_have(dev):
    containers = dev.containers()
    for name in ("alloy", "schema-registry", "keycloak", "nessie", "haproxy"):
        assert containers[name].inputs["healthcheck"]["tests"][:2] == ["CMD", "bash"], name
    for service, tools in HEALTH_CHECK_TOOLS.items():
        assert tools.evidence and tools.tools, service
