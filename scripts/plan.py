"""Print a stack's plan as Markdown for a pull request, evaluated offline (no Docker, no Pulumi CLI).

    python -m scripts.plan dev            (or: python scripts/plan.py --stack prod)

The program runs under Pulumi's mocks with nothing but `Pulumi.<stack>.yaml` (harness/offline.py),
and the plan is read from what it registers: every Service with its layer, image, host ports,
URL, limits, volumes and networks; the limits added up against `datalyptica:host`; and a
Mermaid diagram of layers, services, networks and who waits for whom.
"""

import argparse
import asyncio
import contextlib
import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from components import catalog
from components.service import SERVICE_TYPE
from components.settings import (
    ServiceSettings,
    Settings,
    SettingsError,
    config_from_engine,
    format_size,
    load_settings,
)
from harness.offline import ROOT, Deployment, Registered, run_program, stack_config

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
MiB = catalog.MiB


@dataclass
class PlannedService:
    name: str
    layer: str
    image: str
    cpus: float
    memory: int  # bytes
    ports: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    job: bool = False
    waits_for: set[str] = field(default_factory=set)


@dataclass
class Plan:
    stack: str
    settings: Settings
    services: list[PlannedService]
    internal_networks: set[str]

    def layers(self) -> list[str]:
        return [layer for layer in self.settings.layers if any(s.layer == layer for s in self.services)]

    def networks(self) -> list[str]:
        return sorted({network for service in self.services for network in service.networks})

    def spawned(self) -> list[ServiceSettings]:
        """Containers a service starts at run time (notebooks), counted at their most."""
        return [s for s in self.settings.deployed_services() if s.name in catalog.SPAWNED_SERVICES]

    def not_built(self) -> list[str]:
        """Services of enabled layers that the capacity check counts but the program does not register."""
        registered = {label(s) for s in self.services}
        return [
            s.name
            for s in self.settings.deployed_services()
            if s.name not in registered and s.name not in catalog.SPAWNED_SERVICES
        ]


def label(service: PlannedService) -> str:
    """The settings' service a container belongs to (etcd-2 -> etcd)."""
    return service.name if service.name in catalog.SERVICES else service.name.rsplit("-", 1)[0]


# ---- reading what the program registered ----------------------------------------------------


def evaluate(stack: str) -> Plan:
    """Run the program for `stack` under mocks, quietly, and read its plan."""
    config = stack_config(stack)
    settings = load_settings(config_from_engine(config))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    log = io.StringIO()  # the program's own log: its warnings are in the plan, shown again only on failure
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            deployment = run_program(config, stack=stack)
    except BaseException:
        sys.stderr.write(log.getvalue())
        raise
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
    return read_plan(stack, settings, deployment)


def read_plan(stack: str, settings: Settings, deployment: Deployment) -> Plan:
    by_urn = {r.urn: r for r in deployment.registered}
    image_names = {}
    for image in deployment.of_type("docker:index/remoteImage:RemoteImage"):
        image_names[image.outputs.get("imageId")] = image.inputs["name"]
    protected = {v.inputs["name"] for v in deployment.of_type(VOLUME) if v.protect}
    urls = _urls_by_port(deployment.outputs)
    service_of_container = {}
    services = []
    for component in deployment.of_type(SERVICE_TYPE):
        [container] = [r for r in deployment.children(component) if r.type == CONTAINER]
        service_of_container[container.urn] = component.name
        services.append(_planned(component.name, container, image_names, protected, urls))
    for service, component in zip(services, deployment.of_type(SERVICE_TYPE), strict=True):
        [container] = [r for r in deployment.children(component) if r.type == CONTAINER]
        service.waits_for = {service_of_container[urn] for urn in _containers_reached(container, by_urn)}
    internal = {n.inputs["name"] for n in deployment.of_type(NETWORK) if n.inputs.get("internal")}
    return Plan(stack, settings, services, internal)


def _planned(name: str, container: Registered, image_names: dict, protected: set[str], urls: dict) -> PlannedService:
    inputs = container.inputs
    labels = {item["label"]: item["value"] for item in inputs.get("labels", [])}
    ports = inputs.get("ports", [])
    volumes = [
        f"{v['volumeName']}:{v['containerPath']}" + (" (protected)" if v["volumeName"] in protected else "")
        for v in inputs.get("volumes", [])
        if v.get("volumeName")
    ]
    return PlannedService(
        name=name,
        layer=labels.get("datalyptica.layer", "?"),
        image=image_names.get(inputs["image"], inputs["image"]),
        cpus=float(inputs.get("cpus", 0)),
        memory=int(inputs.get("memory", 0)) * MiB,
        ports=[f"{p.get('ip', '0.0.0.0')}:{int(p['external'])}→{int(p['internal'])}" for p in ports],
        urls=[url for p in ports for url in urls.get(int(p["external"]), [])],
        volumes=volumes,
        networks=[n["name"] for n in inputs.get("networksAdvanced", [])],
        job=inputs.get("start") is False,
    )


def _urls_by_port(outputs: dict) -> dict[int, list[str]]:
    """The stack's `*_url` outputs, by the host port they point at (a port may serve several)."""
    found: dict[int, list[str]] = {}
    for name, value in sorted(outputs.items()):
        if not (name.endswith("_url") and isinstance(value, str)):
            continue
        for address in value.split(","):  # a Kafka bootstrap list names one broker per entry
            if port := urlsplit(address if "://" in address else f"//{address}").port:
                found.setdefault(port, []).append(address)
    return found


def _containers_reached(container: Registered, by_urn: dict[str, Registered]) -> set[str]:
    """Containers this one depends on: directly, or through what it depends on that is not a
    container (a database whose provider connects through HAProxy, a bucket made through MinIO, or
    a SeaweedFS identity job that waits for SeaweedFS)."""
    reached, seen = set(), set()
    todo = list(_depends_on(container))
    while todo:
        urn = todo.pop()
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        if by_urn[urn].type == CONTAINER:
            reached.add(urn)
        else:
            todo.extend(_depends_on(by_urn[urn]))
    return reached


def _depends_on(resource: Registered) -> Iterator[str]:
    yield from resource.dependencies
    if resource.provider:  # "<provider urn>::<provider id>"
        yield resource.provider.rsplit("::", 1)[0]


# ---- Markdown -------------------------------------------------------------------------------


def render(plan: Plan) -> str:
    return "\n".join([*_header(plan), *_services_table(plan), *_capacity(plan), *_diagram(plan)]) + "\n"


def _header(plan: Plan) -> list[str]:
    settings = plan.settings
    return [
        f"# Plan of stack `{plan.stack}`",
        "",
        f"Evaluated offline from `Pulumi.{plan.stack}.yaml`: the program ran under Pulumi's mocks, with no "
        "Docker and no Pulumi CLI, so nothing here says that images pull or containers turn healthy.",
        "",
        f"- layers: {', '.join(settings.layers)}",
        f"- ports bind to `{settings.bind_address}`; URLs use `{settings.endpoint_host}`",
        f"- object store: {settings.object_store}",
        f"- data volumes, databases and buckets protected: {'yes' if settings.protect_data else 'no'}",
        "",
    ]


def _services_table(plan: Plan) -> list[str]:
    lines = [
        f"## Services ({len(plan.services)} containers)",
        "",
        "| layer | service | image | host ports | URL | CPU | memory | volumes | networks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for service in sorted(
        plan.services,
        key=lambda s: (plan.settings.layers.index(s.layer) if s.layer in plan.settings.layers else 99, s.name),
    ):
        name = f"{service.name} (job)" if service.job else service.name
        lines.append(
            "| "
            + " | ".join(
                [
                    service.layer,
                    name,
                    f"`{service.image}`",
                    _cell(service.ports),
                    _cell(service.urls),
                    f"{service.cpus:g}",
                    format_size(service.memory),
                    _cell(service.volumes),
                    _cell(service.networks),
                ]
            )
            + " |"
        )
    for spawned in plan.spawned():
        lines.append(
            f"| {spawned.layer} | {spawned.name} (spawned, up to {spawned.replicas}) | `{_image(plan, spawned)}` "
            f"| – | – | {spawned.cpus:g} each | {format_size(spawned.memory_bytes)} each | – | – |"
        )
    return [*lines, ""]


def _image(plan: Plan, service: ServiceSettings) -> str:
    if folder := service.built_image:
        return f"{catalog.BUILT_IMAGE_REGISTRY}/{folder}:{plan.settings.image_version}"
    return service.image


def _cell(values: list[str]) -> str:
    return "<br>".join(f"`{v}`" for v in values) if values else "–"


def _capacity(plan: Plan) -> list[str]:
    settings = plan.settings
    registered_cpus = sum(s.cpus for s in plan.services)
    registered_memory = sum(s.memory for s in plan.services)
    counted_cpus = sum(settings.cpu_demand().values())
    counted_memory = sum(settings.memory_demand().values())
    spawned = plan.spawned()
    cpu_room = settings.host.cpus - counted_cpus
    memory_room = settings.host.memory_bytes - counted_memory
    lines = [
        "## Capacity",
        "",
        "| | CPU | memory |",
        "|---|---|---|",
        f"| registered containers ({len(plan.services)}) | {registered_cpus:g} | {format_size(registered_memory)} |",
    ]
    for s in spawned:
        lines.append(
            f"| {s.name}, up to {s.replicas} at once | {s.cpus * s.replicas:g} | "
            f"{format_size(s.memory_bytes * s.replicas)} |"
        )
    lines += [
        f"| **counted by the capacity check** | **{counted_cpus:g}** | **{format_size(counted_memory)}** |",
        f"| host (`datalyptica:host`) | {settings.host.cpus:g} | {format_size(settings.host.memory_bytes)} |",
        f"| left | {_room(cpu_room, '{:g}'.format)} | {_room(memory_room, format_size)} |",
        "",
    ]
    if not_built := plan.not_built():
        lines += [
            f"Counted but not registered by the program yet (their layers are enabled, their components "
            f"not built): {', '.join(not_built)}.",
            "",
        ]
    for warning in settings.capacity_warnings():
        lines += [f"> **Warning:** {warning}", ""]
    return lines


Amount = TypeVar("Amount", int, float)  # CPUs (float) or bytes (int)


def _room(room: Amount, show: Callable[[Amount], str]) -> str:
    return show(room) if room >= 0 else f"**{show(-room)} over**"


def _diagram(plan: Plan) -> list[str]:
    lines = ["## Who talks to whom", "", "```mermaid", "flowchart LR"]
    for layer in plan.layers():
        lines.append(f'  subgraph {_id("layer", layer)}["{layer} layer"]')
        lines += [f'    {_id("svc", s.name)}["{s.name}"]' for s in plan.services if s.layer == layer]
        lines.append("  end")
    for network in plan.networks():
        shown = f"{network} (internal)" if network in plan.internal_networks else network
        lines.append(f'  {_id("net", network)}{{{{"{shown}"}}}}')
    for service in plan.services:
        lines += [f"  {_id('svc', service.name)} -.- {_id('net', n)}" for n in service.networks]
    for service in plan.services:
        lines += [f"  {_id('svc', service.name)} --> {_id('svc', other)}" for other in sorted(service.waits_for)]
    lines += [
        "```",
        "",
        "How to read it: boxes are containers, grouped by layer; hexagons are Docker networks.",
        "- `A -.- network`: A joins that network. Containers reach each other by name only on a network they "
        "share; an internal network has no route out of the host.",
        "- `A --> B`: A waits for B. A's container depends on B's, directly or through what the program "
        "provisions on B for A (a database through HAProxy, a bucket and user through MinIO's API, or "
        "through a SeaweedFS provisioning job).",
        "",
    ]
    return lines


def _id(kind: str, name: str) -> str:
    return f"{kind}_{re.sub(r'[^A-Za-z0-9]', '_', name)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", help="the stack, e.g. dev (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--stack", dest="stack_option", metavar="STACK", help="the same, as an option")
    args = parser.parse_args(argv)
    stack = args.stack_option or args.stack
    stacks = sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))
    if stack not in stacks:
        parser.error(
            f"no Pulumi.{stack}.yaml; stacks: {', '.join(stacks)}" if stack else f"name a stack: {', '.join(stacks)}"
        )
    try:
        plan = evaluate(stack)
    except SettingsError as error:
        print(f"stack {stack} cannot be deployed: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(render(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
