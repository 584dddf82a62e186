"""The providers built from Go modules (tests/engine/tooling.py) serve what the pinned Python SDKs send.

pulumi-resource-random and pulumi-resource-docker are built from the upstream Terraform providers
with a token mapping of our own, not from Pulumi's provider repositories; the program, though,
talks to them through pulumi_random and pulumi_docker at the versions uv.lock pins. So for every
resource of those SDKs (and their providers' config), the Args class's input properties, by their
names on the wire, must be the schema's inputProperties and nothing else, with the same shape
(scalar, list, map or object) and, into nested object types, the same again.

The schema is what the built provider answers to GetSchema, asked through the built CLI
(`pulumi package get-schema <binary>`). Without a build of the current inputs the tests skip
(with the command that builds it), unless DATALYPTICA_REQUIRE_TOOLS=1: then the session builds it
(cached under build/engine/) and a failed build fails them.
"""

import collections.abc
import importlib
import inspect
import re
import typing
from functools import cache
from typing import Any

import pulumi
import pytest
from pulumi import _types as pulumi_types

from required_tools import missing_tool, tools_required
from tests.engine import tooling

SDK_PACKAGES = {"random": "pulumi_random", "docker": "pulumi_docker"}
# Resources of the SDKs that the built providers leave out on purpose: pulumi-docker's Image is
# native (pulumi-docker's own Go code, not bridged); the program builds with RemoteImage instead.
NOT_BRIDGED = {"docker:index/image:Image"}

Schema = dict[str, Any]


@pytest.fixture(scope="session")
def engine_tools() -> tooling.EngineTools:
    """The built CLI and providers; built here (cached) only when the tools are required."""
    try:
        tools = tooling.built()
        if tools is None:
            if not tools_required():
                missing_tool(
                    "the engine is not built for the current tests/engine/go/ (about 10 minutes cold):"
                    " python -m tests.engine.tooling build"
                )
            tools = tooling.build()
    except tooling.GoMissing as error:
        missing_tool(str(error))
        raise
    assert tools is not None
    return tools


@pytest.fixture(scope="session")
def schemas(engine_tools: tooling.EngineTools) -> dict[str, Schema]:
    return {name: tooling.package_schema(engine_tools, name) for name in SDK_PACKAGES}


@cache
def sdk_resources(plugin: str) -> dict[str, type]:
    """The SDK's resources (its provider as pulumi:providers:<plugin>) by type token, each to its Args class."""
    package = importlib.import_module(SDK_PACKAGES[plugin])
    resources: dict[str, type] = {}
    for cls in vars(package).values():
        if not (isinstance(cls, type) and issubclass(cls, pulumi.CustomResource)):
            continue
        # The generated _internal_init passes the token to the base class first.
        found = re.search(r"super\(\w+, __self__\)\.__init__\(\s*'([^']+)'", inspect.getsource(cls))
        assert found, f"no type token in {cls.__module__}.{cls.__name__}"
        token = found.group(1)
        if issubclass(cls, pulumi.ProviderResource):
            token = f"pulumi:providers:{token}"
        resources[token] = getattr(importlib.import_module(cls.__module__), f"{cls.__name__}Args")
    return resources


def resource_cases() -> list[Any]:
    return [
        pytest.param(plugin, token, id=f"{plugin}:{token.rsplit(':', 1)[-1]}")
        for plugin in SDK_PACKAGES
        for token in sorted(sdk_resources(plugin))
        if token not in NOT_BRIDGED
    ]


def _element(typ: Any) -> Any:
    """T of Input[T] (a Union of T, Awaitable[T] and Output[...]), or typ itself."""
    args = typing.get_args(typ)
    return args[0] if args and typing.get_origin(typ) is typing.Union else typ


def sdk_shape(typ: Any) -> tuple[str, type | None]:
    """scalar, array, map or object, and the input type of the objects if any."""
    origin = typing.get_origin(typ)
    if origin in (collections.abc.Sequence, list):
        kind, inner = "array", _element(typing.get_args(typ)[0])
    elif origin in (collections.abc.Mapping, dict):
        kind, inner = "map", _element(typing.get_args(typ)[1])
    elif isinstance(typ, type) and pulumi_types.is_input_type(typ):
        return "object", typ
    else:
        return "scalar", None
    return kind, inner if isinstance(inner, type) and pulumi_types.is_input_type(inner) else None


def schema_shape(schema: Schema, spec: Schema) -> tuple[str, str | None]:
    """scalar, array, map or object, and the token of the object type if any."""

    def object_token(spec: Schema) -> str | None:
        ref = spec.get("$ref", "")
        token = ref.removeprefix("#/types/")
        if ref.startswith("#/types/") and schema["types"][token].get("type") == "object":
            return str(token)
        return None

    if spec.get("type") == "array":
        return "array", object_token(spec["items"])
    if spec.get("type") == "object" and "additionalProperties" in spec:
        return "map", object_token(spec["additionalProperties"])
    token = object_token(spec)
    return ("object", token) if token else ("scalar", None)


def sdk_required(args: type) -> set[str]:
    """The wire names of the arguments that the Args class's constructor requires."""
    names = pulumi_types.input_type_py_to_pulumi_names(args)
    parameters = inspect.signature(args.__init__).parameters.values()  # type: ignore[misc]
    return {names[p.name] for p in parameters if p.default is inspect.Parameter.empty and p.name in names}


def describe(kind: str, objects: bool) -> str:
    return {"object": "an object", "scalar": "a scalar"}.get(kind, f"a {kind}{' of objects' if objects else ''}")


def differences(
    schema: Schema, path: str, args: type, inputs: Schema, required: list[str], seen: set[tuple[type, str]]
) -> list[str]:
    """Where the SDK input type `args` and the schema's properties `inputs` (of which `required`
    are required) disagree, under `path`."""
    sdk_types = pulumi_types.input_type_types(args)
    sdk_names = set(pulumi_types.input_type_py_to_pulumi_names(args).values())
    found = []
    if only_sdk := sorted(sdk_names - set(inputs)):
        found.append(f"{path}: only the Python SDK ({args.__name__}) has {only_sdk}")
    if only_schema := sorted(set(inputs) - sdk_names):
        found.append(f"{path}: only the built provider's schema has {only_schema}")
    if sorted(sdk_required(args)) != sorted(set(required)):
        found.append(f"{path}: required in the SDK {sorted(sdk_required(args))}, in the schema {sorted(required)}")
    for name in sorted(sdk_names & set(inputs)):
        if name not in sdk_types:  # typed Output without T: nothing to compare
            continue
        sdk_kind, sdk_object = sdk_shape(sdk_types[name])
        schema_kind, schema_object = schema_shape(schema, inputs[name])
        if (sdk_kind, sdk_object is None) != (schema_kind, schema_object is None):
            found.append(
                f"{path}.{name}: {describe(sdk_kind, sdk_object is not None)} in the SDK,"
                f" {describe(schema_kind, schema_object is not None)} in the schema"
            )
        elif sdk_object is not None and schema_object is not None and (sdk_object, schema_object) not in seen:
            seen.add((sdk_object, schema_object))
            spec = schema["types"][schema_object]
            found += differences(
                schema, f"{path}.{name}", sdk_object, spec.get("properties", {}), spec.get("required", []), seen
            )
    return found


@pytest.mark.parametrize("plugin", sorted(SDK_PACKAGES))
def test_the_provider_reports_the_pinned_sdk_version(plugin: str, schemas: dict[str, Schema]) -> None:
    assert schemas[plugin]["name"] == plugin
    assert schemas[plugin]["version"] == tooling.plugin_versions()[plugin]


@pytest.mark.parametrize("plugin", sorted(SDK_PACKAGES))
def test_the_provider_serves_every_resource_of_the_sdk(plugin: str, schemas: dict[str, Schema]) -> None:
    sdk = {token for token in sdk_resources(plugin) if not token.startswith("pulumi:providers:")}
    served = set(schemas[plugin]["resources"])
    assert sorted(sdk - served) == sorted(NOT_BRIDGED & sdk)
    assert sorted(served - sdk) == []


@pytest.mark.parametrize(("plugin", "token"), resource_cases())
def test_the_sdk_inputs_are_the_schema_inputs(plugin: str, token: str, schemas: dict[str, Schema]) -> None:
    schema = schemas[plugin]
    spec = schema["provider"] if token.startswith("pulumi:providers:") else schema["resources"][token]
    args = sdk_resources(plugin)[token]
    inputs, required = spec.get("inputProperties", {}), spec.get("requiredInputs", [])
    assert differences(schema, token, args, inputs, required, set()) == []
