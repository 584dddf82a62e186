"""The live tests' probe program: registers resources given as data, through the same providers.

A test that needs one more consumer like the platform's (a role and database made as
`storage.database` makes them, an S3 identity job like Nessie's) deploys it here, with the real
engine and providers, instead of reaching into the platform's stack. Config (JSON, set secret):
`probe:providers` {name: {"package": ..., "inputs": {...}}} and `probe:resources`
[{"type": ..., "name": ..., "provider": name, "inputs": {...}, "outputs": [...]}]. Inputs named in
a resource's "secret" list stay secret Outputs; its listed outputs are exported as `<name>.<output>`.
Each resource waits for the ones listed before it (a role before its database, that before a grant).
"""

import json
from typing import Any

import pulumi

config = pulumi.Config("probe")
# The values are secret in the stack file; their structure decides what is registered, so they are
# read as plain values here and the credentials among them wrapped as secrets again below.
provider_specs: dict[str, Any] = json.loads(config.require("providers"))
resource_specs: list[dict[str, Any]] = json.loads(config.require("resources"))


def secret_keys(inputs: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {key: pulumi.Output.secret(value) if key in keys else value for key, value in inputs.items()}


providers = {
    name: pulumi.ProviderResource(spec["package"], name, secret_keys(spec["inputs"], spec.get("secret", [])))
    for name, spec in provider_specs.items()
}
registered: list[pulumi.Resource] = []
for spec in resource_specs:
    props = {**secret_keys(spec["inputs"], spec.get("secret", [])), **dict.fromkeys(spec.get("outputs", []))}
    resource = pulumi.CustomResource(
        spec["type"],
        spec["name"],
        props,
        opts=pulumi.ResourceOptions(provider=providers[spec["provider"]], depends_on=list(registered)),
    )
    registered.append(resource)
    for output in spec.get("outputs", []):
        pulumi.export(f"{spec['name']}.{output}", getattr(resource, output))
