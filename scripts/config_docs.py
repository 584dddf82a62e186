"""docs/configuration.md, generated from the settings model, the catalog and the shipped stacks so it cannot drift.

    python -m scripts.config_docs            print the page
    python -m scripts.config_docs --check    exit 1 when docs/configuration.md is not what they give
    python -m scripts.config_docs --write    rewrite docs/configuration.md (`make config-schema`)

The page lists every `datalyptica:` key of components/settings.py (with the description Pulumi.yaml
declares, scripts/config_schema.py), every service of components/catalog.py with its defaults for
`datalyptica:services.<name>`, every host port `datalyptica:ports.<name>` with its default and
owner, and what each shipped stack (Pulumi.<stack>.yaml) declares, publishes and exports. What the
catalog does not hold (the container port behind a host port, the stack outputs) is read from the
program itself, run under mocks (harness/offline.py) with each shipped stack: no Docker, no Pulumi CLI.
"""

import argparse
import enum
import functools
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from components import catalog
from components.settings import (
    BUILD_NETWORKS,
    MEASURED_CPU_OVERCOMMIT,
    MIN_CPUS,
    MIN_MEMORY,
    NAMESPACE,
    SAME_IMAGE,
    VERSIONED_TAGS,
    ServiceOverride,
    Settings,
    format_size,
)
from harness.offline import Deployment, run_program, settings_of, stack_config
from scripts.config_schema import config_key, description

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"
STACKS: tuple[str, ...] = tuple(sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml")))
NONE = "–"  # an empty table cell
YAML_DOCUMENT_END = "\n..."  # what yaml.safe_dump ends a lone scalar with

# What a key accepts where its type and the model's constraints do not say it all: the checks its
# validators make (components/settings.py). A key with neither an entry here nor a constraint
# accepts any value of its type.
ACCEPTED: dict[str, str] = {
    "layers": "each of {layers} at most once; a layer needs the layers it builds on (Layers, below)",
    "object_store": "one of {object_stores}",
    "schema_registry": "one of {schema_registries}",
    "image_build_network": "one of {build_networks}",
    "docker_socket": "an absolute path on the Docker host, without spaces or colons",
    "host": "`cpus`: a number above 0; `memory`: a size ({sizes})",
    "ports": "a port name of Host ports (below): a port 1-65535, or `null` to not publish it; "
    "never `null` for {required_ports}",
    "services": "a service name of Services (below), with any of `cpus`, `memory`, `replicas`, `image` (below)",
}
SIZES = "`512m`, `4g`, `1.5GiB` or a number of bytes"

# The keys each service takes under datalyptica:services.<name>: what they accept (settings.py's checks).
SERVICE_KEYS: dict[str, str] = {
    "cpus": f"a number, {MIN_CPUS} or more, with at most nine decimals (Docker's bounds)",
    "memory": f"a size ({SIZES}), {format_size(MIN_MEMORY)} or more",
    "replicas": "1 or more, only for the services marked scalable; a service that is not always runs its own count",
    "image": "a pinned image (a tag other than `latest`, or a digest), or `build:<folder>` for a folder of "
    "`images/` with a Dockerfile",
}


def cell(text: str) -> str:
    """Text that stays in its Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def prose(text: str) -> str:
    """Text from the model as Markdown: a `<name>` outside backticks would be read as an HTML tag."""
    parts = text.split("`")
    return "`".join(part if index % 2 else part.replace("<", "\\<") for index, part in enumerate(parts))


def _plain(value: Any) -> Any:
    """A value with its whole floats as integers (16.0 -> 16), as a person writes them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def code(value: Any) -> str:
    """A value as it is written in a stack file, in backticks: YAML's flow style."""
    text = yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=False, width=1000)
    return f"`{text.strip().removesuffix(YAML_DOCUMENT_END)}`"


def type_text(annotation: Any) -> str:
    """A field's type in words, the way a stack file writes it."""
    words = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if annotation in words:
        return words[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "string"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = ", ".join(f"{f.alias or n}: {type_text(f.annotation)}" for n, f in annotation.model_fields.items())
        return f"map {{{fields}}}"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:  # a type with validators of its own (settings.Cpus, PortNumber, ...)
        return type_text(args[0])
    if origin is list:
        return f"list of {type_text(args[0])}s"
    if origin is dict:
        return f"map of {type_text(args[0])} to {type_text(args[1])}"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_text(arg) for arg in args)
    raise SystemExit(f"scripts/config_docs.py cannot name the type {annotation!r}: teach type_text about it")


def constraints(field: FieldInfo) -> list[str]:
    """The model's own constraints of a field (pattern, bounds), in words."""
    said = []
    for item in field.metadata:
        if pattern := getattr(item, "pattern", None):
            said.append(f"matches `{pattern}`")
        for bound, words in (("ge", "at least"), ("gt", "above"), ("le", "at most"), ("lt", "below")):
            if (value := getattr(item, bound, None)) is not None:
                said.append(f"{words} {value}")
        if (length := getattr(item, "min_length", None)) is not None:
            said.append(f"at least {length} long")
    return said


def accepted(name: str, field: FieldInfo) -> str:
    words = {
        "layers": ", ".join(f"`{layer}`" for layer in catalog.LAYERS),
        "object_stores": ", ".join(f"`{store}`" for store in catalog.OBJECT_STORES.services),
        "schema_registries": ", ".join(f"`{choice}`" for choice in catalog.SCHEMA_REGISTRIES.services),
        "build_networks": ", ".join(f"`{network}`" for network in BUILD_NETWORKS),
        "sizes": SIZES,
        "required_ports": ", ".join(f"`{port}`" for port in catalog.REQUIRED_PORTS),
    }
    said = [ACCEPTED[name].format(**words)] if name in ACCEPTED else []
    said += constraints(field)
    if said:
        return "; ".join(said)
    return "`true` or `false`" if field.annotation is bool else f"any {type_text(field.annotation)}"


def keys_section() -> list[str]:
    defaults = Settings().model_dump(mode="json", by_alias=True)
    lines = ["## Keys", ""]
    for name, field in Settings.model_fields.items():
        lines += [
            f"### `{config_key(name, field)}`",
            prose(description(name, field)),
            "",
            f"- type: {type_text(field.annotation)}",
            f"- default: {code(defaults[field.alias or name])}",
            f"- accepts: {accepted(name, field)}",
            "",
        ]
    return lines


def layers_section() -> list[str]:
    lines = [
        "## Layers",
        "A layer in `datalyptica:layers` needs the layers it builds on; it uses others when the stack enables "
        "them (`LAYER_REQUIRES` and `LAYER_USES` in `components/catalog.py`).",
        "",
        "| layer | needs | uses when enabled | services |",
        "|---|---|---|---|",
    ]
    for layer in catalog.LAYERS:
        needs = ", ".join(catalog.LAYER_REQUIRES[layer]) or NONE
        uses = ", ".join(catalog.LAYER_USES[layer]) or NONE
        services = ", ".join(catalog.services_of(layer))
        lines.append(f"| {layer} | {needs} | {uses} | {services} |")
    return [*lines, ""]


def _image(image: str) -> str:
    if image.startswith("build:"):
        folder = image.removeprefix("build:")
        return f"built from `images/{folder}/` (`{catalog.BUILT_IMAGE_REGISTRY}/{folder}:<imageVersion>`)"
    return f"`{image}`"


def services_section() -> list[str]:
    lines = [
        "## Services",
        f"Each service takes these keys under `{NAMESPACE}:services.<name>`; a service or key a stack leaves "
        "out keeps the catalog's default (`components/catalog.py`, the table below).",
        "",
        "| key | type | accepts |",
        "|---|---|---|",
    ]
    for name, field in ServiceOverride.model_fields.items():
        lines.append(f"| `{field.alias or name}` | {type_text(field.annotation)} | {cell(SERVICE_KEYS[name])} |")
    by_rule: dict[str, list[str]] = {}
    for name, (_, what) in VERSIONED_TAGS.items():
        by_rule.setdefault(what, []).append(f"`{name}`")
    versioned = "; ".join(f"the tag of {' and '.join(names)} must be {what}" for what, names in by_rule.items())
    same = "; ".join(f"`{first}` and `{second}` run the same image" for first, second in SAME_IMAGE)
    lines += [
        "",
        f"Images: {versioned}. {same}: they form one cluster.",
        "",
        "| service | layer | image | cpus | memory | replicas | host ports |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, defaults in catalog.SERVICES.items():
        replicas = f"{defaults.replicas}{', scalable' if defaults.scalable else ''}"
        kind = " (job: runs on demand or once)" if defaults.job else ""
        ports = ", ".join(f"{port} ({number})" for port, number in defaults.ports.items()) or NONE
        lines.append(
            f"| `{name}`{kind} | {defaults.layer} | {cell(_image(defaults.image))} | {defaults.cpus:g} | "
            f"{defaults.memory} | {replicas} | {ports} |"
        )
    return [*lines, ""]


@functools.cache
def deployment(stack: str) -> Deployment:
    """The program run under mocks with Pulumi.<stack>.yaml, as the tests run it."""
    return run_program(stack_config(stack), stack=stack)


def container_ports(deployments: Mapping[str, Deployment]) -> dict[str, str]:
    """Port name -> `<service name>:<container port>` behind it, as the shipped stacks publish it."""
    found: dict[str, str] = {}
    for stack, deployed in deployments.items():
        settings = settings_of(stack)
        published = {port: name for name, port in settings.host_ports().items()}
        for container in deployed.containers().values():
            for port in container.inputs.get("ports", []):
                name = published.get(int(port["external"]))
                if name is not None and name in catalog.ALL_PORT_NAMES:
                    found.setdefault(name, f"{container.inputs['hostname']}:{int(port['internal'])}")
    return found


def _published(stack: str, port_name: str) -> str:
    ports = settings_of(stack).host_ports()
    numbers = [port for name, port in ports.items() if name == port_name or name.startswith(f"{port_name} (")]
    if not numbers:
        return NONE
    return str(numbers[0]) if len(numbers) == 1 else f"{min(numbers)}-{max(numbers)}"


def _port_notes(port_name: str) -> str:
    owner = catalog.port_owner(port_name)
    defaults = catalog.SERVICES[owner]
    notes = []
    for alternatives in catalog.ALTERNATIVES:
        choices = [choice for choice, service in alternatives.services.items() if service == owner]
        if choices:
            notes.append(f"only with `{alternatives.key}: {choices[0]}`")
    if defaults.ports_per_replica:
        notes.append("replica i on this port + i - 1")
    if port_name in catalog.REQUIRED_PORTS:
        notes.append(f"never null: {catalog.REQUIRED_PORTS[port_name]}")
    shared = [other for other in catalog.ALL_PORT_NAMES if other != port_name and _same_default(other, port_name)]
    if shared:
        notes.append(f"same default as {', '.join(shared)}: only one of them runs")
    return "; ".join(notes) or NONE


def _same_default(first: str, second: str) -> bool:
    number = catalog.SERVICES[catalog.port_owner(first)].ports[first]
    return number == catalog.SERVICES[catalog.port_owner(second)].ports[second]


def ports_section(deployments: Mapping[str, Deployment]) -> list[str]:
    inside = container_ports(deployments)
    stacks = " | ".join(STACKS)
    lines = [
        "## Host ports",
        f"Every host port a service publishes (`{NAMESPACE}:ports.<name>`), bound to `{NAMESPACE}:bindAddress`; "
        "the defaults live in "
        "`components/catalog.py`, and two services never claim one host port (the settings refuse it). "
        "`container` is the service's name and port inside the platform; each stack's column is the host port "
        f"it publishes ({NONE}: none). Before a first `pulumi up`, these must be free on the Docker host.",
        "",
        f"| port name | service | default | container | stack output | {stacks} | notes |",
        f"|---|---|---|---|---|{'---|' * len(STACKS)}---|",
    ]
    for port_name in catalog.ALL_PORT_NAMES:
        owner = catalog.port_owner(port_name)
        url = catalog.PORT_URLS.get(port_name)
        output = f"`{url.output}_url`" if url else NONE
        where = f"`{inside[port_name]}`" if port_name in inside else "not in a shipped stack"
        published = " | ".join(_published(stack, port_name) for stack in STACKS)
        lines.append(
            f"| {port_name} | {owner} | {catalog.SERVICES[owner].ports[port_name]} | {where} | {output} | "
            f"{published} | {cell(_port_notes(port_name))} |"
        )
    return [*lines, ""]


def stacks_section() -> list[str]:
    lines = [
        "## The shipped stacks",
        "What each `Pulumi.<stack>.yaml` declares and what its limits add up to (every replica and job "
        "counted, notebooks at `services.notebook.replicas`): the settings refuse memory beyond "
        "`host.memory`. CPU limits are ceilings that busy containers share, so they may add up to more "
        f"than `host.cpus`: the settings warn past {MEASURED_CPU_OVERCOMMIT} times it, the most the live "
        "tests run at (the e2e stack), and refuse one container more than `host.cpus`.",
        "",
        "| stack | layers | object store | bind address | host | memory limits | CPU limits | host ports |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stack in STACKS:
        settings = settings_of(stack)
        layers = "all" if list(settings.layers) == list(catalog.LAYERS) else ", ".join(settings.layers)
        host = f"{settings.host.cpus:g} CPUs, {settings.host.memory}"
        memory = format_size(sum(settings.memory_demand().values()))
        cpus = f"{sum(settings.cpu_demand().values()):g}"
        lines.append(
            f"| {stack} | {layers} | {settings.object_store} | {settings.bind_address} | {host} | {memory} | "
            f"{cpus} | {len(settings.host_ports())} |"
        )
    return [*lines, ""]


def outputs_section(deployments: Mapping[str, Deployment]) -> list[str]:
    stacks = " | ".join(STACKS)
    lines = [
        "## Stack outputs",
        "What `pulumi stack output` lists after a `pulumi up` of each shipped stack (x: the stack exports it). "
        "A secret shows as `[secret]` until read with `pulumi stack output --show-secrets <name>`.",
        "",
        f"| output | secret | {stacks} |",
        f"|---|---|{'---|' * len(STACKS)}",
    ]
    names = sorted({name for deployed in deployments.values() for name in deployed.outputs})
    for name in names:
        secret = "yes" if any(name in deployed.secret_outputs for deployed in deployments.values()) else "no"
        exported = " | ".join("x" if name in deployments[stack].outputs else NONE for stack in STACKS)
        lines.append(f"| `{name}` | {secret} | {exported} |")
    return [*lines, ""]


HEADER = [
    "# Configuration reference",
    "",
    "<!-- Generated by `make config-schema` (scripts/config_docs.py) from components/settings.py, "
    "components/catalog.py and the Pulumi.<stack>.yaml files; edit those, not this page. "
    "tests/test_config_docs.py fails when it is stale. -->",
    "",
    "A stack's config lives in `Pulumi.<stack>.yaml` under the namespace `datalyptica`. Set a key with "
    "`pulumi config set datalyptica:<key> <value>`, a nested one with `--path`, e.g. "
    "`pulumi config set --path 'datalyptica:services.trino.memory' 4g`.",
    "",
    "`Pulumi.yaml` declares each key with its type, a description and its default, generated from the same "
    "model (`make config-schema`; `tests/test_config_schema.py` fails when they differ). Pulumi fills in the "
    "default of a key a stack leaves out and refuses a stack value of the wrong type before the program runs. "
    "Pulumi has no object type, so `host`, `ports` and `services` are declared without one; the settings "
    "check every value.",
    "",
    "Bad input stops the program before any resource is registered, naming the key, the value and what is "
    "accepted (also: no replicas of a service, an untagged or `latest` image, a Trino or Flink tag without its "
    "version, a Flink or Spark cluster split over two images, limits below Docker's bounds, memory limits "
    "beyond the host's), e.g.",
    "",
    "    datalyptica:ports: trino and minio both use host port 9000; give one of them another port under "
    "datalyptica:ports (or null to not publish it)",
    "",
]


def render(deploy: Callable[[str], Deployment] = deployment) -> str:
    deployments = {stack: deploy(stack) for stack in STACKS}
    lines = [
        *HEADER,
        *keys_section(),
        *layers_section(),
        *services_section(),
        *ports_section(deployments),
        *stacks_section(),
        *outputs_section(deployments),
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when docs/configuration.md is stale")
    mode.add_argument("--write", action="store_true", help="rewrite docs/configuration.md")
    args = parser.parse_args(argv)
    wanted = render()
    current = PAGE.read_text() if PAGE.exists() else ""
    if args.write:
        if wanted != current:
            PAGE.parent.mkdir(exist_ok=True)
            PAGE.write_text(wanted)
        return 0
    if args.check:
        if wanted != current:
            print("docs/configuration.md differs from what the model gives; run `make config-schema`", file=sys.stderr)
            return 1
        return 0
    print(wanted, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
