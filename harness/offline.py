"""Evaluates the Pulumi program offline: under mocks, with a stack's config as the engine hands it over.

No Docker and no Pulumi CLI: the engine passes every config value as a string (lists and maps
as JSON) and registers each resource with its options; a recording monitor keeps both, with
the secret markers of every input. Tests assert on what it records; `scripts.plan` prints it.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, reset_options, rpc
from pulumi.runtime.stack import Stack, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.streaming import CLUSTER_ID_RESOURCE

if TYPE_CHECKING:
    from components.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = rpc._special_secret_sig
# Random values that name things (Kafka's cluster id), not generated secrets: the policy pack's
# GENERATED_IDENTIFIERS, which tests/test_policies.py holds to this.
GENERATED_IDENTIFIERS = frozenset({CLUSTER_ID_RESOURCE})
SIG_KEY = rpc._special_sig_key


def stack_config(stack: str) -> dict[str, Any]:
    """The config of Pulumi.<stack>.yaml as the engine hands it to the program: strings and JSON."""
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def settings_of(stack: str) -> "Settings":
    """The validated settings of Pulumi.<stack>.yaml, as the program would load them."""
    from components.settings import config_from_engine, load_settings

    return load_settings(config_from_engine(stack_config(stack)))


def engine_config(config: dict[str, Any]) -> dict[str, str]:
    """Plain values (as in a stack file) -> the strings the engine passes (namespace added)."""
    return {
        (key if ":" in key else f"datalyptica:{key}"): value if isinstance(value, str) else json.dumps(value)
        for key, value in config.items()
    }


@dataclass
class Registered:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    raw_inputs: dict[str, Any]  # as sent, secrets still wrapped
    outputs: dict[str, Any]  # as the mocks computed them, secrets revealed
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    provider: str
    additional_secret_outputs: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)

    def secret_inputs(self) -> set[str]:
        """Top-level inputs that carry a secret anywhere inside them."""
        return {key for key, value in self.raw_inputs.items() if _has_secret(value)}

    def plaintext(self) -> str:
        """Every input that is not secret, as one string (to search for leaked credentials)."""
        return json.dumps(_strip_secrets(self.raw_inputs), sort_keys=True)

    def plaintext_outputs(self) -> str:
        """Every output the engine would keep in plain text in state, as one string.

        The engine stores an output as a secret when its input of the same name was one, or when
        it is one of the resource's `additional_secret_outputs` (a provider's SDK lists its
        schema's secret outputs there itself, e.g. RandomPassword's `result`).
        """
        secret = self.secret_inputs() | set(self.additional_secret_outputs)
        return json.dumps(
            {key: value for key, value in self.outputs.items() if key not in secret}, sort_keys=True, default=str
        )


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(SIG_KEY) == SECRET_SIG or any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def _replace_secrets(value: Any, replacement: Callable[[Any], Any]) -> Any:
    """`value` with each secret marker replaced by `replacement` of the value it hides."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return replacement(value["value"])
        return {k: _replace_secrets(v, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secrets(v, replacement) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The values behind secret markers (what the container or provider would receive)."""
    return _replace_secrets(value, reveal)


def _strip_secrets(value: Any) -> Any:
    return _replace_secrets(value, lambda _hidden: "[secret]")


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mocks_: mocks.Mocks):
        super().__init__(mocks_)
        self.registered: list[Registered] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        # Registrations run concurrently: PlatformMocks find each one's URN by its type and name
        # (mocks without `urns` keep none).
        if isinstance(urns := getattr(self.mocks, "urns", None), dict):
            urns[(request.type, request.name)] = self.make_urn(request.parent, request.type, request.name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # pulumi's MockMonitor is untyped
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs=reveal(rpc.deserialize_properties(request.object)),
                    raw_inputs=json_format.MessageToDict(request.object),
                    outputs=reveal(rpc.deserialize_properties(response.object)),
                    dependencies=list(request.dependencies),
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    delete_before_replace=request.deleteBeforeReplace,
                    provider=request.provider,
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    replace_on_changes=list(request.replaceOnChanges),
                )
            )
        return response


@dataclass
class MockState:
    """What the engine keeps between two `pulumi up` runs, as far as one-shot jobs need it.

    A job container registered again with the same inputs and not named by `--replace` is not
    created again: the engine keeps it and hands back its stored outputs, the exit code of the run
    that created it. `replace` holds the URNs a `pulumi up --replace <urn>` names; `runs` lists
    every job run, by container name, in order.
    """

    jobs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    replace: set[str] = field(default_factory=set)
    runs: list[str] = field(default_factory=list)


class PlatformMocks(mocks.Mocks):
    """Gives each resource the outputs its provider would compute, so the program can use them."""

    def __init__(self, job_exit_codes: dict[str, int] | None = None, state: MockState | None = None):
        super().__init__()
        self.generated_secrets: set[str] = set()
        self.job_exit_codes = job_exit_codes or {}  # container name -> exit code (default 0)
        self.state = state if state is not None else MockState()
        self.urns: dict[tuple[str, str], str] = {}  # (type, name) -> URN, set by the RecordingMonitor

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        token = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()
        if args.typ in ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"):
            # A letter of each case the resource asks for, then hex digits (an alphabet of its own).
            cases = ("G" if args.inputs.get("upper", True) else "") + ("x" if args.inputs.get("lower", True) else "")
            outputs["result"] = (cases + token + token)[: int(args.inputs.get("length", 16))]
            self.generated_secrets.add(outputs["result"])
        elif args.typ == "random:index/randomBytes:RandomBytes":
            outputs["hex"] = token[: 2 * int(args.inputs["length"])]
            # Real base64 of `length` bytes, starting with the two characters URL-safe base64 replaces.
            raw = (b"\xfb\xff" + bytes.fromhex(token))[: int(args.inputs["length"])]
            outputs["base64"] = base64.b64encode(raw).decode()
            if args.name not in GENERATED_IDENTIFIERS:
                self.generated_secrets.update({outputs["hex"], outputs["base64"]})
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            outputs["imageId"] = f"sha256:{token}"
        elif args.typ == "docker:index/container:Container" and args.inputs.get("attach"):
            outputs = self._job(self.urns[(args.typ, args.name)], args.inputs, outputs)
        return f"{args.name}-id", outputs

    def _job(self, urn: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
        """A one-shot job: kept as it is in state (its old exit code) unless new or replaced."""
        name = inputs["name"]
        kept = self.state.jobs.get(urn)
        if kept is not None and kept[0] == inputs and urn not in self.state.replace:
            return kept[1]
        self.state.runs.append(name)
        outputs["exitCode"] = self.job_exit_codes.get(name, 0)
        self.state.jobs[urn] = (inputs, outputs)
        return outputs

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []  # no result and no failures


@runtime_checkable
class KeepsSecrets(Protocol):
    """Mocks that note every secret they generate (PlatformMocks)."""

    generated_secrets: set[str]


@dataclass
class Deployment:
    registered: list[Registered]
    generated_secrets: set[str] = field(default_factory=set)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.registered if r.type == type_]

    def not_secret_or_empty(self, *outputs: str) -> list[str]:
        """Of these stack outputs, those the stack leaves empty or does not mark secret."""
        return [name for name in outputs if name not in self.secret_outputs or not self.outputs.get(name)]

    def named(self, name: str, type_: str | None = None) -> Registered:
        found = [r for r in self.registered if r.name == name and (type_ is None or r.type == type_)]
        assert len(found) == 1, f"expected one resource named {name!r}, found {len(found)}"
        return found[0]

    def containers(self) -> dict[str, Registered]:
        """Containers by their service's name (`<service>-container`, service.py)."""
        return {r.name.removesuffix("-container"): r for r in self.of_type("docker:index/container:Container")}

    def plaintext_leaks(self) -> list[str]:
        """Resources whose inputs or outputs in state would show a generated secret's value in plain
        text (should be none). Every resource counts, the generating random ones too."""
        return [
            f"{resource.type} {resource.name} ({where})"
            for resource in self.registered
            for where, text in (("inputs", resource.plaintext()), ("outputs", resource.plaintext_outputs()))
            if any(secret in text for secret in self.generated_secrets)
        ]

    def health_checks(self) -> dict[str, list[str]]:
        """The health check command of every container that has one (jobs have none), by service."""
        return {
            name: c.inputs["healthcheck"]["tests"] for name, c in self.containers().items() if "healthcheck" in c.inputs
        }

    def children(self, parent: Registered) -> list[Registered]:
        return [r for r in self.registered if r.parent == parent.urn]

    def ancestors(self, resource: Registered) -> Iterator[Registered]:
        by_urn = {r.urn: r for r in self.registered}
        while resource.parent in by_urn:
            resource = by_urn[resource.parent]
            yield resource

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.registered if r.urn == urn)


@contextlib.contextmanager
def _engine_config_env(config: dict[str, str]) -> Iterator[None]:
    """PULUMI_CONFIG as Python's language host sets it for the program (JSON of every key)."""
    before = os.environ.get("PULUMI_CONFIG")
    os.environ["PULUMI_CONFIG"] = json.dumps(config)
    try:
        yield
    finally:
        if before is None:
            del os.environ["PULUMI_CONFIG"]
        else:
            os.environ["PULUMI_CONFIG"] = before


def main_program() -> None:
    """The Pulumi program itself, as the language host runs it."""
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


@contextlib.contextmanager
def pulumi_runtime() -> Iterator[None]:
    """A fresh event loop, and Pulumi's process-global runtime settings reset afterwards: what
    each run of the program under mocks needs (tests/conftest.py gives every test one)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        reset_options()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)


def run_program(
    config: dict[str, str],
    *,
    stack: str = "test",
    job_exit_codes: dict[str, int] | None = None,
    state: MockState | None = None,
) -> Deployment:
    """Run __main__.py under mocks with `config` (engine form) and return what it registered."""
    return run_function(main_program, config, stack=stack, job_exit_codes=job_exit_codes, state=state)


def run_function(
    program: Callable[[], Any],
    config: dict[str, str],
    *,
    stack: str = "test",
    job_exit_codes: dict[str, int] | None = None,
    state: MockState | None = None,
) -> Deployment:
    """Run any Pulumi program function under mocks (e.g. one layer with a made-up consumer).

    One-shot jobs exit 0 unless `job_exit_codes` (container name -> code) says otherwise. Pass the
    same `state` to several runs to model successive `pulumi up`s of one stack (see MockState).
    """
    # A new program process starts with no root stack: without this, a second run in one process
    # would parent its resources (and their stack transformations) to the first run's stack.
    pulumi.runtime.reset_options()
    program_mocks = PlatformMocks(job_exit_codes, state)
    assert isinstance(program_mocks, KeepsSecrets), "the mocks must note the secrets they generate"
    monitor = RecordingMonitor(program_mocks)
    pulumi.runtime.set_mocks(monitor.mocks, project="datalyptica", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config)
    with _engine_config_env(config):
        _sync_await(run_pulumi_func(program))
    deployment = Deployment(monitor.registered, program_mocks.generated_secrets)
    root = pulumi.runtime.get_root_resource()
    assert isinstance(root, Stack), "run_pulumi_func registers the program's stack as the root"
    for name, value in root.outputs.items():
        output = pulumi.Output.from_input(value)
        deployment.outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            deployment.secret_outputs.add(name)
    return deployment
