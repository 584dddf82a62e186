"""The pull request plan (`python -m scripts.plan <stack>`) on the dev and prod stacks.

Checked against what the program registers and what the settings say, not against a list of
services, so it holds as layers are added.
"""

import re

import pytest

from components import catalog
from components.settings import format_size
from harness.offline import settings_of
from scripts import plan as plan_command

CONTAINER = "docker:index/container:Container"


@pytest.fixture(params=["dev", "prod"])
def stack(request):
    """(stack name, its deployment under mocks, its plan as Markdown)."""
    deployment = request.getfixturevalue(request.param)
    planned = plan_command.read_plan(request.param, settings_of(request.param), deployment)
    return request.param, deployment, plan_command.render(planned)


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]  # no header


def mermaid_block(markdown: str) -> list[str]:
    start = markdown.index("```mermaid\n")
    end = markdown.index("\n```", start + 1)
    return markdown[start:end].splitlines()[1:]


def test_every_registered_container_appears_once(stack):
    _name, deployment, markdown = stack
    services = [row[1].removesuffix(" (job)") for row in table_rows(markdown, "Services")]
    containers = deployment.containers()
    assert containers
    for hostname in containers:
        assert services.count(hostname) == 1, hostname
    assert f"## Services ({len(containers)} containers)" in markdown


def test_host_ports_are_the_settings_ports(stack):
    name, deployment, markdown = stack
    settings = settings_of(name)
    published = {}
    for service, container in deployment.containers().items():
        for port in container.inputs.get("ports", []):
            published[int(port["external"])] = service
    assert published
    rows = {row[1]: row for row in table_rows(markdown, "Services")}
    for port_name, port in settings.host_ports().items():
        if port in published:  # a port of a layer whose components are built
            row = rows[published[port]]
            assert f"`{settings.bind_address}:{port}→" in row[3], port_name
    assert len(re.findall(r"`[0-9.]+:(\d+)→", markdown)) == len(published)


def test_urls_come_from_the_stack_outputs(stack):
    _name, deployment, markdown = stack
    for output, url in deployment.outputs.items():
        if output.endswith("_url"):
            for address in url.split(","):  # one broker per entry of a Kafka bootstrap list
                assert markdown.count(f"`{address}`") == 1, output


def test_limits_and_totals_match_the_settings(stack):
    name, deployment, markdown = stack
    settings = settings_of(name)
    rows = {row[0]: row for row in table_rows(markdown, "Capacity")}
    counted = rows["**counted by the capacity check**"]
    assert counted[1] == f"**{sum(settings.cpu_demand().values()):g}**"
    assert counted[2] == f"**{format_size(sum(settings.memory_demand().values()))}**"
    containers = deployment.of_type(CONTAINER)
    registered = rows[f"registered containers ({len(containers)})"]
    assert registered[2] == format_size(sum(c.inputs["memory"] for c in containers) * catalog.MiB)
    host = rows["host (`datalyptica:host`)"]
    assert host[1:] == [f"{settings.host.cpus:g}", format_size(settings.host.memory_bytes)]
    notebook = settings.service("notebook")
    spawned = rows[f"notebook, up to {notebook.replicas} at once"]
    assert spawned[2] == format_size(notebook.memory_bytes * notebook.replicas)


def test_each_service_row_has_its_container_limits_image_volumes_and_networks(dev):
    markdown = plan_command.render(plan_command.read_plan("dev", settings_of("dev"), dev))
    rows = {row[1]: row for row in table_rows(markdown, "Services")}
    minio = dev.containers()["minio"].inputs
    row = rows["minio"]
    assert row[0] == "storage"
    assert row[2] == f"`{settings_of('dev').service('minio').image}`"  # the pulled reference, not the image id
    assert row[5] == minio["cpus"] and row[6] == format_size(minio["memory"] * catalog.MiB)
    assert row[7] == "`datalyptica-minio-data:/data`"
    assert row[8] == "<br>".join(f"`{network['name']}`" for network in minio["networksAdvanced"])
    assert rows["patroni-1"][2].startswith(f"`{catalog.BUILT_IMAGE_REGISTRY}/patroni:")


def test_prod_marks_protected_volumes(prod):
    markdown = plan_command.render(plan_command.read_plan("prod", settings_of("prod"), prod))
    assert "`datalyptica-minio-data:/data (protected)`" in markdown
    assert "protected: yes" in markdown


def test_the_mermaid_diagram_is_well_formed(stack):
    _name, deployment, markdown = stack
    lines = mermaid_block(markdown)
    assert lines[0] == "flowchart LR"
    depth = 0
    for line in lines:
        if line.strip().startswith("subgraph "):
            depth += 1
            assert depth == 1, "layers are not nested"
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
    assert depth == 0
    defined = set(re.findall(r"^\s*(\w+)(?:\[|\{\{)", "\n".join(lines), re.MULTILINE))
    edges = re.findall(r"^\s*(\w+) (-->|-\.-) (\w+)$", "\n".join(lines), re.MULTILINE)
    assert edges
    for source, _, target in edges:
        assert source in defined and target in defined, (source, target)
    # every container is a node, in its layer's subgraph
    for hostname in deployment.containers():
        assert f'["{hostname}"]' in markdown


def test_the_diagram_draws_networks_and_who_waits_for_whom(dev):
    markdown = plan_command.render(plan_command.read_plan("dev", settings_of("dev"), dev))
    lines = mermaid_block(markdown)
    assert "  svc_nessie --> svc_haproxy" in lines  # its database is provisioned through HAProxy
    assert "  svc_nessie --> svc_minio" in lines  # its bucket and user through MinIO
    assert "  svc_patroni_1 --> svc_etcd_1" in lines
    assert "  svc_minio -.- net_datalyptica_storage" in lines
    assert '  net_datalyptica_postgres_ha{{"datalyptica-postgres-ha (internal)"}}' in lines
    legend = markdown.split("```", 3)[-1]
    assert "`A -.- network`" in legend and "`A --> B`: A waits for B" in legend


def test_the_command_prints_the_plan(capsys):
    assert plan_command.main(["--stack", "dev"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("# Plan of stack `dev`\n")
    assert "```mermaid" in printed.out
    assert printed.err == ""  # the program's warnings are in the plan, not on stderr


def test_the_command_names_the_stacks_it_knows(capsys):
    with pytest.raises(SystemExit) as exit_:
        plan_command.main(["staging"])
    assert exit_.value.code == 2
    assert "no Pulumi.staging.yaml; stacks: dev, e2e, prod" in capsys.readouterr().err
