"""The project driven by the real `pulumi` CLI, the way a user deploys it: a local file backend,
a passphrase, `pulumi up` / `preview` / `refresh` / `destroy` in a project folder.

The CLI, the providers and the language host come from tests/engine/tooling.py (built from Go
modules and installed into a PULUMI_HOME of the tests' own). The CLI runs in a folder of its own
under build/ that mirrors the checkout (each top-level entry a symlink to it) except the stack
files, which are copies: creating a stack with a passphrase writes its `encryptionsalt` into
`Pulumi.<stack>.yaml`, and the tests must not change the checkout's.

What a deployment leaves is read back from the state (`pulumi stack export --show-secrets`) as a
`harness.offline.Deployment`, so the live tests read the same `Registered` resources whether the
program ran under mocks or for real.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.offline import GENERATED_IDENTIFIERS, ROOT, SECRET_SIG, SIG_KEY, Deployment, Registered, reveal

RANDOM_OUTPUTS = {
    "random:index/randomPassword:RandomPassword": ("result",),
    "random:index/randomString:RandomString": ("result",),
    "random:index/randomBytes:RandomBytes": ("base64", "hex"),
}
STACK_TYPE = "pulumi:pulumi:Stack"
# Top-level entries of the checkout the CLI's folder leaves out: its own state and outputs.
NOT_MIRRORED = {".git", "build", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__"}


class PulumiFailed(AssertionError):
    """A `pulumi` command exited non-zero; its output is in the message."""

    def __init__(self, args: Sequence[str], code: int, output: str):
        errors = list(dict.fromkeys(line.strip() for line in output.splitlines() if "error:" in line))
        super().__init__(
            f"pulumi {' '.join(args)} exited {code}; its errors:\n"
            + "\n".join(errors[:40])
            + f"\n...\n{output[-3000:]}"
        )
        self.code = code
        self.output = output


@dataclass
class Run:
    """One `pulumi` command: what it printed and how long it took."""

    args: list[str]
    code: int
    output: str
    seconds: float
    events: list[dict[str, Any]] = field(default_factory=list)

    def changes(self) -> dict[str, int]:
        """The summary's counts by operation (same, create, update, replace, delete, ...)."""
        for event in reversed(self.events):
            summary = event.get("summaryEvent")
            if summary:
                return {op: int(n) for op, n in (summary.get("resourceChanges") or {}).items()}
        return {}

    def steps(self, op: str | None = None) -> list[dict[str, Any]]:
        """The resource steps the engine took (resourcePreEvent metadata), optionally of one op."""
        found = []
        for event in self.events:
            pre = event.get("resourcePreEvent")
            if pre and (op is None or pre["metadata"]["op"] == op):
                found.append(pre["metadata"])
        return found

    def step_seconds(self) -> dict[str, float]:
        """Seconds from each resource's first step to its outputs, by URN (from the event log)."""
        started: dict[str, float] = {}
        done: dict[str, float] = {}
        for event in self.events:
            moment = float(event.get("timestamp", 0))
            if pre := event.get("resourcePreEvent"):
                started.setdefault(pre["metadata"]["urn"], moment)
            elif outputs := event.get("resOutputsEvent"):
                done[outputs["metadata"]["urn"]] = moment
        return {urn: done[urn] - started[urn] for urn in done if urn in started}


@dataclass
class Workspace:
    """A stack of this project under the real CLI, with its own backend, home and passphrase."""

    stack: str
    root: Path  # the CLI's project folder, the stack's state and passphrase
    cli: Path
    home: Path  # PULUMI_HOME: the plugins, shared by the tests' stacks
    env_extra: dict[str, str] = field(default_factory=dict)
    destroyed: bool = False  # a `pulumi destroy` removed every resource

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def backend(self) -> Path:
        return self.root / "state"

    @property
    def passphrase_file(self) -> Path:
        return self.root / "passphrase"

    @property
    def stack_file(self) -> Path:
        return self.project / f"Pulumi.{self.stack}.yaml"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "DOCKER_"))}
        return {
            **env,
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{self.backend}",
            "PULUMI_CONFIG_PASSPHRASE_FILE": str(self.passphrase_file),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DEBUG_COMMANDS": "true",  # offers --event-log, which the tests read steps from
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",  # the plugins installed, and the host beside the CLI
            "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PATH": f"{self.cli.parent}:{env.get('PATH', '')}",
            **self.env_extra,
        }

    # ---- set up -------------------------------------------------------------------------

    def create(self, config: dict[str, Any] | None = None, *, source: Path = ROOT) -> None:
        """A new stack: the project folder mirrored from `source`, the stack file copied (with
        `config` merged in, plain YAML values), then `pulumi stack init` with a new passphrase."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.project.mkdir(parents=True)
        self.backend.mkdir()
        self.mirror(source)
        stack_source = source / f"Pulumi.{self.stack}.yaml"
        document = yaml.safe_load(stack_source.read_text()) if stack_source.exists() else {"config": {}}
        document.setdefault("config", {})
        for key, value in (config or {}).items():
            document["config"][key if ":" in key else f"datalyptica:{key}"] = value
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
        self.passphrase_file.write_text(secrets.token_urlsafe(24))
        self.passphrase_file.chmod(0o600)
        self.pulumi("stack", "init", self.stack)

    def mirror(self, source: Path) -> None:
        """Point the project folder at the program in `source` (each top-level entry a symlink,
        Pulumi.yaml a copy); the stack file and the state stay. Called again with another
        checkout, the next `pulumi preview` or `up` runs that program against this stack."""
        for entry in self.project.iterdir():
            if entry.is_symlink() or entry.name == "Pulumi.yaml":
                entry.unlink()
        for entry in source.iterdir():
            if entry.name in NOT_MIRRORED or entry.name.startswith("Pulumi."):
                continue
            (self.project / entry.name).symlink_to(entry)
        project = yaml.safe_load((source / "Pulumi.yaml").read_text())
        options = (project.get("runtime") or {}).get("options") or {}
        if options.get("virtualenv"):  # relative to the project's own folder, which this one is not
            options["virtualenv"] = str((source / options["virtualenv"]).resolve())
        (self.project / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))

    def set_config(self, key: str, value: Any) -> None:
        """Change one key of the stack file, as a person edits it (plain YAML value)."""
        document = yaml.safe_load(self.stack_file.read_text())
        document["config"][key if ":" in key else f"datalyptica:{key}"] = value
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def set_secret(self, key: str, value: str) -> None:
        """`pulumi config set --secret`, the value on standard input (not on a command line)."""
        self.pulumi("config", "set", "--secret", key, stdin=value)

    def config(self, key: str) -> Any:
        return yaml.safe_load(self.stack_file.read_text())["config"].get(key if ":" in key else f"datalyptica:{key}")

    # ---- commands ------------------------------------------------------------------------

    def pulumi(
        self, *args: str, check: bool = True, timeout: float = 1800, events: bool = False, stdin: str | None = None
    ) -> Run:
        """`pulumi ARGS --stack <stack>` in the project folder, non-interactive; its event log read
        when `events`."""
        command = [str(self.cli), *args, "--non-interactive", "--color", "never"]
        if args[:2] != ("stack", "init") and args[0] not in ("plugin", "login", "version", "about"):
            command += ["--stack", self.stack]
        log = self.root / f"events-{time.monotonic_ns()}.jsonl"
        if events:
            command += ["--event-log", str(log)]
        started = time.monotonic()
        result = subprocess.run(
            command,
            cwd=self.project,
            env=self.env(),
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        run = Run(list(args), result.returncode, result.stdout, time.monotonic() - started)
        if events and log.exists():
            run.events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            log.unlink()
        if check and result.returncode != 0:
            raise PulumiFailed(args, result.returncode, result.stdout)
        return run

    def up(self, *extra: str, check: bool = True) -> Run:
        return self.pulumi("up", "--yes", "--skip-preview", "--diff", *extra, check=check, events=True)

    def preview(self, *extra: str, check: bool = True) -> Run:
        return self.pulumi("preview", "--diff", *extra, check=check, events=True)

    def refresh(self, *extra: str, check: bool = True) -> Run:
        return self.pulumi("refresh", "--yes", "--skip-preview", *extra, check=check, events=True)

    def destroy(self, *extra: str, check: bool = True) -> Run:
        run = self.pulumi("destroy", "--yes", "--skip-preview", *extra, check=check, events=True)
        self.destroyed = run.code == 0 and "--exclude-protected" not in extra
        return run

    def remove(self) -> None:
        """Forget the stack (`pulumi stack rm`): its state only, nothing deployed."""
        self.pulumi("stack", "rm", "--yes", "--force")

    # ---- state ----------------------------------------------------------------------------

    def export(self, *, show_secrets: bool = True) -> dict[str, Any]:
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        exported: dict[str, Any] = json.loads(self.pulumi(*args).output)
        return exported

    def deployment(self) -> Deployment:
        return deployment_from_state(self.export())

    def state_text(self) -> str:
        """The state as the backend keeps it on disk (secrets encrypted), to search for leaks."""
        return "\n".join(p.read_text() for p in self.backend.rglob("*.json"))


def deployment_from_state(exported: dict[str, Any]) -> Deployment:
    """A `harness.offline.Deployment` of what the state holds: every resource with its inputs,
    outputs and options; the stack's outputs; the values the random resources generated."""
    resources = (exported.get("deployment") or {}).get("resources") or []
    registered: list[Registered] = []
    generated: set[str] = set()
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for resource in resources:
        if resource["type"] == STACK_TYPE:
            for key, value in (resource.get("outputs") or {}).items():
                outputs[key] = reveal(_sdk_form(value))
                if _is_state_secret(value):
                    secret_outputs.add(key)
            continue
        raw_inputs = _sdk_form(resource.get("inputs") or {})
        resource_outputs = reveal(_sdk_form(resource.get("outputs") or {}))
        identifier = resource["urn"].rsplit("::", 1)[1] in GENERATED_IDENTIFIERS
        for key in () if identifier else RANDOM_OUTPUTS.get(resource["type"], ()):
            if isinstance(resource_outputs.get(key), str):
                generated.add(resource_outputs[key])
        registered.append(
            Registered(
                type=resource["type"],
                name=resource["urn"].rsplit("::", 1)[1],
                urn=resource["urn"],
                parent=resource.get("parent") or "",
                inputs=reveal(raw_inputs),
                raw_inputs=raw_inputs,
                outputs=resource_outputs,
                dependencies=list(resource.get("dependencies") or []),
                protect=bool(resource.get("protect")),
                retain_on_delete=bool(resource.get("retainOnDelete")),
                delete_before_replace=bool(resource.get("deleteBeforeReplace")),
                provider=resource.get("provider") or "",
                additional_secret_outputs=list(resource.get("additionalSecretOutputs") or []),
            )
        )
    return Deployment(registered, generated, outputs, secret_outputs)


def _is_state_secret(value: Any) -> bool:
    """The state marks a secret as the SDK does (the same signature key and value); exported with
    --show-secrets, its value is JSON under `plaintext` instead of `value`."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG and "value" not in value


def _secret_value(value: dict[str, Any]) -> Any:
    if "plaintext" in value:
        return json.loads(value["plaintext"])
    raise ValueError("a secret exported without --show-secrets has no value to read")


def _sdk_form(value: Any) -> Any:
    """State secrets as the SDK marks them, so Registered.secret_inputs() and reveal() read them."""
    if _is_state_secret(value):
        return {SIG_KEY: SECRET_SIG, "value": _sdk_form(_secret_value(value))}
    if isinstance(value, dict):
        return {k: _sdk_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sdk_form(v) for v in value]
    return value


def secrets_in_state(text: str, values: Iterator[str] | set[str]) -> list[str]:
    """Which of `values` appear in plain text in `text` (the state on disk): should be none."""
    return sorted(v for v in values if v and v in text)
