"""Pulumi.yaml's typed `config:` block is the settings model's, and Pulumi accepts it and the stacks.

The block is generated (scripts/config_schema.py). Pulumi checks it when it loads the project (a
default must have the declared type, an array must say its items) and checks every stack value
against it before the program runs; it copies a default into the config of every stack that leaves
the key out, so the program must read the same settings from the defaults as from nothing at all.
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import NAMESPACE, Settings, config_from_engine, load_settings
from scripts import config_schema

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
DECLARED: dict[str, dict[str, Any]] = PROJECT["config"]
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
PULUMI_TYPES = {"string", "integer", "boolean", "array"}  # sdk/go/common/workspace/project.json, simpleConfigType


def engine_value(value: Any) -> str:
    """A config value as the engine hands it to the program (workspace.createConfigValue): primitives
    formatted as Go's %v, anything else as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)


def pulumi_accepts(declared_type: str, items: dict[str, Any] | None, value: Any) -> bool:
    """Pulumi's check of one value against a declared type (workspace.ValidateConfigValue): a stack's
    scalar arrives as its text, so booleans and integers may be written as text; array items may not."""
    if declared_type == "string":
        return isinstance(value, str)
    if declared_type == "integer":
        if isinstance(value, str):
            return value.lstrip("-").isdigit()
        return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    if declared_type == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if declared_type == "array":
        return (
            items is not None
            and isinstance(value, list)
            and all(pulumi_accepts(items["type"], items.get("items"), item) for item in value)
        )
    raise AssertionError(f"not a Pulumi config type: {declared_type}")


def stack_text(value: Any) -> Any:
    """A stack file's value as Pulumi keeps it: a scalar as its text, a list or map as structure."""
    if isinstance(value, list | dict):
        return value
    return engine_value(value)


def test_pulumi_yaml_is_what_the_settings_model_generates():
    text = (ROOT / "Pulumi.yaml").read_text()
    assert config_schema.render_project_file(text) == text, (
        "Pulumi.yaml's config block differs from components/settings.py: run `make config-schema`"
    )


def test_every_settings_key_is_declared_and_nothing_else():
    keys = {f"{NAMESPACE}:{field.alias or name}" for name, field in Settings.model_fields.items()}
    assert set(DECLARED) == keys


@pytest.mark.parametrize("key", sorted(DECLARED))
def test_declaration_is_one_pulumi_loads(key):
    declaration = DECLARED[key]
    assert set(declaration) <= {"type", "items", "description", "default"}, declaration
    assert declaration["description"].strip(), f"{key} has no description"
    assert "default" in declaration, f"{key} has no default: Pulumi would refuse every stack that leaves it out"
    if "type" in declaration:
        assert declaration["type"] in PULUMI_TYPES
        if declaration["type"] == "array":
            assert declaration["items"]["type"] in PULUMI_TYPES
        assert pulumi_accepts(declaration["type"], declaration.get("items"), declaration["default"]), (
            f"{key}: Pulumi refuses a default that is not of the declared type"
        )
    else:  # Pulumi has no object type: the settings model checks these on its own
        assert isinstance(declaration["default"], dict | float), f"{key} could be typed"


def test_defaults_as_the_engine_passes_them_are_the_settings_defaults():
    from_defaults = {f"{key}": engine_value(declaration["default"]) for key, declaration in DECLARED.items()}
    assert load_settings(config_from_engine(from_defaults)) == load_settings({})


def test_a_default_that_is_not_the_models_is_noticed():
    """The comparison above can fail: a default the model does not have reads back differently."""
    changed = {key: engine_value(declaration["default"]) for key, declaration in DECLARED.items()}
    changed[f"{NAMESPACE}:prefix"] = "other"
    assert load_settings(config_from_engine(changed)) != load_settings({})


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: path.name)
def test_stack_values_pass_pulumis_type_check(stack_file):
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config", {})
    for key, value in config.items():
        if not key.startswith(f"{NAMESPACE}:"):
            continue
        assert key in DECLARED, f"{stack_file.name}: {key} is not declared in Pulumi.yaml"
        declaration = DECLARED[key]
        if "type" in declaration:
            assert pulumi_accepts(declaration["type"], declaration.get("items"), stack_text(value)), (
                f"{stack_file.name}: {key}: Pulumi refuses {value!r} as {declaration['type']}"
            )


def test_pulumi_type_check_refuses_what_pulumi_refuses():
    assert not pulumi_accepts("array", {"type": "string"}, ["storage", 1])
    assert not pulumi_accepts("array", None, ["storage"])
    assert not pulumi_accepts("boolean", None, "yes")
    assert not pulumi_accepts("integer", None, "1.5")
    assert pulumi_accepts("boolean", None, stack_text(False))
    assert pulumi_accepts("integer", None, stack_text(8))
