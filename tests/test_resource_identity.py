"""No resource changes identity by surprise: the program registers, for dev, prod and e2e, the
custom resources recorded in tests/fixtures/resources/ (tests/resource_identity.py says why and
how to record again after a deliberate change)."""

import json

import pytest

from tests.resource_identity import STACKS, fixture, record

# Differences the recording may have from the program, one by one, each with its reason.
ALLOWED: dict[str, str] = {}


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_keeps_its_urn_type_options_and_inputs(stack):
    recorded = json.loads(fixture(stack).read_text())
    now = record(stack)
    gone = sorted(set(recorded) - set(now) - set(ALLOWED))
    new = sorted(set(now) - set(recorded) - set(ALLOWED))
    assert not gone and not new, f"URNs gone: {gone}\nURNs new: {new}"
    changed = {urn: _differences(recorded[urn], now[urn]) for urn in recorded if urn not in ALLOWED}
    changed = {urn: keys for urn, keys in changed.items() if keys}
    assert not changed, f"resources whose type, options or inputs changed: {changed}"


def _differences(before: dict, after: dict) -> list[str]:
    """The option names and `inputs.<key>` that differ."""
    keys = [key for key in sorted(set(before) | set(after)) if key != "inputs" and before.get(key) != after.get(key)]
    inputs_before, inputs_after = before.get("inputs", {}), after.get("inputs", {})
    keys += [
        f"inputs.{key}"
        for key in sorted(set(inputs_before) | set(inputs_after))
        if inputs_before.get(key) != inputs_after.get(key)
    ]
    return keys
