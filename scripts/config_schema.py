"""Pulumi.yaml's project-level `config:` block, generated from the settings model so the two cannot drift.

    python -m scripts.config_schema            print the block
    python -m scripts.config_schema --check    exit 1 when Pulumi.yaml's block is not what the model gives
    python -m scripts.config_schema --write    rewrite Pulumi.yaml's block (`make config-schema`)

Every `datalyptica:` key the model knows gets a declaration: its Pulumi type where Pulumi has one
(string, integer, boolean, array of those), a description, and the model's default. Pulumi has no
object type, so `host`, `ports` and `services` are declared without a type; the settings model
checks them, with its own messages, before any resource is registered. Pulumi copies a default
into the config of every stack that does not set the key, and the program then reads it as if the
stack had: so the default written here must be exactly the model's, which the tests prove.
"""

import argparse
import enum
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic.fields import FieldInfo

from components.settings import NAMESPACE, Settings

PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
MARKER = "# Generated from components/settings.py by `make config-schema`; edit the model, not this block."

# Used where the model's field carries no `description`; a key with neither stops the generator.
DESCRIPTIONS = {
    "layers": "The layers to deploy: {layers}. A layer needs the ones it builds on "
    "(LAYER_REQUIRES in components/catalog.py).",
    "prefix": "Prefix of every container, volume and network name.",
    "bind_address": "The host address published ports bind to (127.0.0.1: this machine only).",
    "endpoint_host": "The name by which the machine running Pulumi reaches the Docker host's published ports; "
    "the providers and the stack outputs use it.",
    "protect_data": "Protect data volumes, databases (and their owner roles), buckets and the generated secrets "
    "that unlock them (protect + retainOnDelete): no update, replacement or destroy deletes them.",
    "image_version": "Tag of the images built from images/ ({registry}/<name>:<version>).",
    "host": "The Docker host's {cpus, memory}: every container's limits are added up against it (replicas, "
    "jobs, and notebooks at services.notebook.replicas); memory beyond it is refused naming the largest "
    "consumers; CPU limits may add up to more (they are shared ceilings): past 8 times the host's cpus "
    "the settings warn.",
    "ports": "Host port per port name (docs/configuration.md, Host ports); null does not publish it. "
    "Ports left out keep their defaults from components/catalog.py.",
    "object_store": "The S3 object store the storage layer runs: minio or seaweedfs.",
    "schema_registry": "The schema registry the streaming layer runs: confluent (Confluent Schema Registry) "
    "or apicurio (Apicurio Registry, Apache-2.0; the CDC connector writes Avro through it).",
    "services": "Per service: cpus, memory (512m, 4g), image (a pinned tag) and, where a service scales, replicas. "
    "Services left out keep their defaults from components/catalog.py.",
}

_SIMPLE_TYPES: dict[type, str] = {str: "string", bool: "boolean", int: "integer"}


def config_key(name: str, field: FieldInfo) -> str:
    return f"{NAMESPACE}:{field.alias or name}"


def pulumi_type(annotation: Any) -> dict[str, Any]:
    """The Pulumi project config type of a model field, or {} where Pulumi has none (objects, floats, unions)."""
    if annotation in _SIMPLE_TYPES:
        return {"type": _SIMPLE_TYPES[annotation]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = {type(member.value) for member in annotation}
        return {"type": _SIMPLE_TYPES[values.pop()]} if len(values) == 1 and values <= _SIMPLE_TYPES.keys() else {}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        kinds = {type(arg) for arg in args}
        return {"type": _SIMPLE_TYPES[kinds.pop()]} if len(kinds) == 1 and kinds <= _SIMPLE_TYPES.keys() else {}
    if origin is list and len(args) == 1 and (items := pulumi_type(args[0])):
        return {"type": "array", "items": items}
    return {}


def _choices(annotation: Any) -> list[Any]:
    """The values a Literal or Enum field accepts, to name them in its description."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    if typing.get_origin(annotation) in (list, types.UnionType, typing.Union):
        return [choice for arg in typing.get_args(annotation) for choice in _choices(arg)]
    return []


def description(name: str, field: FieldInfo) -> str:
    from components import catalog

    text = field.description or DESCRIPTIONS.get(name)
    if not text:
        raise SystemExit(
            f"{config_key(name, field)} has no description: give its field in components/settings.py a "
            f"Field(description=...), then run `make config-schema`"
        )
    text = text.replace("{layers}", ", ".join(catalog.LAYERS)).replace("{registry}", catalog.BUILT_IMAGE_REGISTRY)
    choices = _choices(field.annotation)
    if choices and "one of" not in text:
        text += " One of: " + ", ".join(map(str, choices)) + "."
    return text


def declarations() -> dict[str, dict[str, Any]]:
    """Every key of the settings model as Pulumi.yaml declares it: type, description, default."""
    defaults = Settings().model_dump(mode="json", by_alias=True)
    declared = {}
    for name, field in Settings.model_fields.items():
        key = config_key(name, field)
        if defaults[field.alias or name] is None:  # Pulumi reads `default: null` as no default: the key is required
            raise SystemExit(f"{key} defaults to None; Pulumi would require every stack to set it: give it a default")
        declared[key] = {
            **pulumi_type(field.annotation),
            "description": description(name, field),
            "default": defaults[field.alias or name],
        }
    return declared


def render_block() -> str:
    body = yaml.safe_dump({"config": declarations()}, sort_keys=False, width=100, allow_unicode=True)
    return f"{MARKER}\n{body}"


def render_project_file(text: str) -> str:
    """Pulumi.yaml with its generated block replaced (or appended), everything above the marker kept."""
    head = text.split(MARKER, 1)[0] if MARKER in text else text
    if "\nconfig:" in f"\n{head}":
        raise SystemExit(
            "Pulumi.yaml has a config: block of its own above the generated one; move its keys "
            "into components/settings.py"
        )
    return f"{head.rstrip()}\n{render_block()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when Pulumi.yaml is not what the model gives")
    mode.add_argument("--write", action="store_true", help="rewrite Pulumi.yaml's config block")
    args = parser.parse_args(argv)
    current = PROJECT_FILE.read_text()
    wanted = render_project_file(current)
    if args.write:
        if wanted != current:
            PROJECT_FILE.write_text(wanted)
        return 0
    if args.check:
        if wanted != current:
            print(
                "Pulumi.yaml's config block differs from components/settings.py; run `make config-schema`",
                file=sys.stderr,
            )
            return 1
        return 0
    print(render_block(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
