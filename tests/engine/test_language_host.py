"""The Pulumi CLI built from Go modules (build/engine/cli/pulumi, 3.274.1) runs Python programs and
policy packs through tests/engine/language_host.py, installed beside it as its bundled
`pulumi-language-python`: stack init, config, up, preview, a failing program, destroy, and a
preview that a mandatory policy stops. Everything lives in a temporary PULUMI_HOME with a local
file backend.

The helpers here (EngineCli, prepare_engine, new_engine_cli, write_program) are shared with
test_postgresql_provider.py.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.engine import install, language_host, tooling
from tests.required_tools import missing_tool

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# The engine build's output; DATALYPTICA_ENGINE_BIN points the tests at another folder holding a `pulumi`.
ENGINE_BIN = Path(os.environ.get("DATALYPTICA_ENGINE_BIN") or ROOT / "build" / "engine" / "cli")
PULUMI = ENGINE_BIN / "pulumi"
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
PASSPHRASE = "correct horse battery staple"

pytestmark = pytest.mark.integration


@dataclass
class EngineCli:
    """The built `pulumi` with a PULUMI_HOME and a file backend of its own."""

    home: Path
    backend: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home.parent),
            "LANG": "C.UTF-8",
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{self.backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # Nothing may be downloaded: the plugins the tests need are installed, the rest is refused.
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # Only the bundled host beside the binary and the installed plugins count, never $PATH.
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
            "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        }
        env.update(self.extra_env)
        return env

    def run(
        self, *args: str, cwd: Path, check: bool = True, timeout: float = 300, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [str(PULUMI), *args, "--non-interactive", "--color", "never"]
        if args[:1] == ("plugin",) or args[:2] == ("stack", "output") or args[:1] == ("config",):
            command.remove("--color")
            command.remove("never")
        started = time.monotonic()
        result = subprocess.run(
            command, cwd=cwd, env=self.env, input=stdin, capture_output=True, text=True, timeout=timeout
        )
        self.timings.append((" ".join(args[:2]), time.monotonic() - started))
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def set_secret(self, key: str, value: str, *, cwd: Path) -> None:
        """`pulumi config set --secret KEY`, the value on standard input: never on a command line,
        where a value that starts with "-" would also be read as an option."""
        self.run("config", "set", "--secret", key, cwd=cwd, stdin=value)

    def outputs(self, cwd: Path) -> dict[str, object]:
        result = self.run("stack", "output", "--json", "--show-secrets", cwd=cwd)
        outputs: dict[str, object] = json.loads(result.stdout)
        return outputs

    def export(self, cwd: Path) -> dict[str, object]:
        exported: dict[str, object] = json.loads(self.run("stack", "export", cwd=cwd).stdout)
        return exported

    def report_timings(self, title: str) -> str:
        lines = [f"{title}:"] + [f"  {seconds:6.2f} s  pulumi {what}" for what, seconds in self.timings]
        return "\n".join(lines)


@functools.cache
def _prepared_engine() -> Path:
    language_host.install(PULUMI.resolve().parent, VENV_PYTHON)
    return PULUMI.resolve().parent


def prepare_engine() -> Path:
    """The built CLI's folder (symlinks resolved) with this stand-in installed in it as the CLI's
    bundled python language host; skips (or fails, with DATALYPTICA_REQUIRE_TOOLS=1) without it."""
    if "DATALYPTICA_ENGINE_BIN" not in os.environ:
        try:
            install.engine_tools()  # built once per machine (cached by a hash of its inputs)
        except tooling.GoMissing as missing:
            missing_tool(str(missing))
    if not PULUMI.is_file() or not os.access(PULUMI, os.X_OK):
        missing_tool(f"the Pulumi CLI built from Go modules is not at {PULUMI} (python -m tests.engine.tooling build)")
    if not VENV_PYTHON.is_file():
        missing_tool(f"the project's venv is missing ({VENV_PYTHON}; run `make venv`)")
    return _prepared_engine()


def new_engine_cli(tmp_path: Path) -> EngineCli:
    prepare_engine()
    home = tmp_path / "pulumi-home"
    backend = tmp_path / "backend"
    home.mkdir()
    backend.mkdir()
    return EngineCli(home=home, backend=backend)


@pytest.fixture
def engine_cli(tmp_path: Path) -> Iterator[EngineCli]:
    cli = new_engine_cli(tmp_path)
    yield cli
    print(cli.report_timings("timings"))


def write_program(folder: Path, main: str, *, name: str = "tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            runtime:
              name: python
              options:
                toolchain: pip
                virtualenv: {VENV}
            """
        )
    )
    (folder / "__main__.py").write_text(textwrap.dedent(main))
    return folder


TINY_PROGRAM = """\
    import pulumi

    config = pulumi.Config()


    class Thing(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("tiny:index:Thing", name, {}, None)
            self.register_outputs({})


    thing = Thing("thing")
    pulumi.export("greeting", config.require("greeting").upper())
    pulumi.export("token", config.require_secret("token"))
    pulumi.export("tokenLength", config.require_secret("token").apply(len))
    pulumi.export("where", f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}")
    pulumi.export("thing", thing.urn)
    if config.get_bool("fail"):
        raise RuntimeError("the tiny program failed on purpose")
"""


def test_a_program_is_deployed_updated_to_no_change_fails_loudly_and_is_destroyed(engine_cli: EngineCli, tmp_path):
    program = write_program(tmp_path / "tiny", TINY_PROGRAM)
    cli = engine_cli
    cli.run("stack", "init", "dev", cwd=program)
    cli.run("config", "set", "greeting", "hello", cwd=program)
    cli.set_secret("token", "s3cr3t-token", cwd=program)
    assert "s3cr3t-token" not in (program / "Pulumi.dev.yaml").read_text()

    up = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert "+ 2 created" in up.stdout or "2 created" in up.stdout, up.stdout
    outputs = cli.outputs(program)
    assert outputs == {
        "greeting": "HELLO",
        "token": "s3cr3t-token",
        "tokenLength": 12,
        "where": "organization/tiny/dev",
        "thing": "urn:pulumi:dev::tiny::tiny:index:Thing::thing",
    }
    state = json.dumps(cli.export(program))
    assert "s3cr3t-token" not in state and "ciphertext" in state

    # `pulumi about`: the host's About names the venv's python; its GetRequiredPackages the venv's
    # Pulumi packages, from their pulumi-plugin.json files.
    about = json.loads(cli.run("about", "--json", cwd=program).stdout)
    assert about["runtime"]["executable"] == str(VENV_PYTHON)
    assert about["runtime"]["language"] == "python"
    plugins = {(p["name"], p["kind"]): p["version"] for p in about["plugins"]}
    assert plugins[("python", "language")] == "3.274.1"
    assert plugins[("postgresql", "resource")] == "3.18.2"
    assert plugins[("docker", "resource")] == "5.2.0"
    assert plugins[("random", "resource")] == "4.21.4"
    assert ("policy", "resource") not in plugins  # pulumi-policy's file says "resource": false

    # Nothing changed: a second update does nothing and a preview agrees.
    second = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert "2 unchanged" in second.stdout, second.stdout
    cli.run("preview", "--expect-no-changes", cwd=program)

    # A program that raises: the update fails and shows the program's own traceback once.
    cli.run("config", "set", "fail", "true", cwd=program)
    failed = cli.run("up", "--yes", "--skip-preview", cwd=program, check=False)
    shown = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Program failed with an unhandled exception" in shown, shown
    assert "RuntimeError: the tiny program failed on purpose" in shown, shown
    assert "program exited with non-zero exit code" not in shown, shown  # bail: no second message
    cli.run("config", "rm", "fail", cwd=program)

    refreshed = cli.run("refresh", "--yes", "--skip-preview", cwd=program)
    assert "2 unchanged" in refreshed.stdout, refreshed.stdout
    destroyed = cli.run("destroy", "--yes", "--skip-preview", cwd=program)
    assert "2 deleted" in destroyed.stdout, destroyed.stdout
    assert cli.outputs(program) == {}
    cli.run("stack", "rm", "--yes", cwd=program)


def test_a_missing_virtualenv_is_reported_by_the_host(engine_cli: EngineCli, tmp_path):
    program = write_program(tmp_path / "novenv", "import pulumi\n")
    text = (program / "Pulumi.yaml").read_text().replace(str(VENV), str(tmp_path / "no-such-venv"))
    (program / "Pulumi.yaml").write_text(text)
    engine_cli.run("stack", "init", "dev", cwd=program)
    result = engine_cli.run("preview", cwd=program, check=False)
    assert result.returncode != 0
    assert "no-such-venv" in result.stdout + result.stderr


TINY_PACK = """\
    import pulumi
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


    def no_things(args, report_violation):
        if args.resource_type == "tiny:index:Thing":
            greeting = pulumi.Config("tiny").get("greeting")
            report_violation(f"no things in {pulumi.get_stack()} (greeting {greeting})")


    PolicyPack(
        name="tiny-pack",
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=[ResourceValidationPolicy(name="no-things", description="Things are refused.", validate=no_things)],
    )
"""


def test_a_mandatory_policy_of_a_python_pack_fails_the_preview(engine_cli: EngineCli, tmp_path):
    program = write_program(tmp_path / "tiny", TINY_PROGRAM)
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(
        f"description: a tiny pack\nruntime:\n  name: python\n  options:\n    virtualenv: {VENV}\n"
    )
    (pack / "__main__.py").write_text(textwrap.dedent(TINY_PACK))
    cli = engine_cli
    cli.run("stack", "init", "dev", cwd=program)
    cli.run("config", "set", "greeting", "hello", cwd=program)
    cli.set_secret("token", "s3cr3t-token", cwd=program)

    result = cli.run("preview", "--policy-pack", str(pack), cwd=program, check=False)
    shown = result.stdout + result.stderr
    assert result.returncode != 0, shown
    assert "tiny-pack" in shown and "no-things" in shown, shown
    assert "mandatory" in shown.lower(), shown
    # The pack got the stack's name and config through the host's policy proxy.
    assert "no things in dev (greeting hello)" in shown, shown
    # Without the pack the same preview passes.
    cli.run("preview", cwd=program)


def project_policy_pack(tmp_path: Path) -> Path:
    """A copy of /work/main/policy whose `venv` (PulumiPolicy.yaml: virtualenv venv) is the
    project's venv, which has pulumi-policy: the repository's folder is left as it is."""
    pack = tmp_path / "policy"
    pack.mkdir()
    for name in ("PulumiPolicy.yaml", "__main__.py", "datalyptica_policies.py"):
        shutil.copy(ROOT / "policy" / name, pack / name)
    (pack / "venv").symlink_to(VENV)
    return pack


def test_the_projects_policy_pack_loads_through_the_host_and_passes_a_program_it_has_no_rules_for(
    engine_cli: EngineCli, tmp_path
):
    pack = project_policy_pack(tmp_path)
    program = write_program(tmp_path / "tiny", TINY_PROGRAM)
    cli = engine_cli
    cli.run("stack", "init", "dev", cwd=program)
    cli.run("config", "set", "greeting", "hello", cwd=program)
    cli.set_secret("token", "s3cr3t-token", cwd=program)
    result = cli.run("preview", "--policy-pack", str(pack), cwd=program)
    assert "datalyptica@v0.0.1" in result.stdout, result.stdout


def docker_provider() -> Path | None:
    """The docker provider the engine build made, beside the CLI (tests/engine/tooling.py)."""
    beside = PULUMI.resolve().parent / "pulumi-resource-docker"
    return beside if os.access(beside, os.X_OK) else None


def test_the_projects_policy_pack_fails_a_preview_of_a_privileged_unpinned_container(engine_cli: EngineCli, tmp_path):
    """The real docker provider (5.2.0, built from Go modules) checks the container; the project's
    pack, run by the host, refuses it with its mandatory rules. No Docker daemon is needed for a preview."""
    provider = docker_provider()
    if provider is None:
        missing_tool(f"no pulumi-resource-docker beside {PULUMI.resolve()} (python -m tests.engine.tooling build)")
    pack = project_policy_pack(tmp_path)
    cli = engine_cli
    cli.run("plugin", "install", "resource", "docker", "5.2.0", "--file", str(provider), cwd=tmp_path)
    program = write_program(
        tmp_path / "docker",
        """\
        import pulumi
        import pulumi_docker as docker

        provider = docker.Provider("docker", host="unix:///nonexistent/docker.sock")
        docker.Container("bad", image="busybox:latest", privileged=True, opts=pulumi.ResourceOptions(provider=provider))
        """,
        name="docker",
    )
    cli.run("stack", "init", "dev", cwd=program)
    result = cli.run("preview", "--policy-pack", str(pack), cwd=program, check=False)
    shown = result.stdout + result.stderr
    assert result.returncode != 0, shown
    for rule in ("no-privileged-containers", "images-are-pinned", "containers-have-memory-and-cpu-limits"):
        assert f"[mandatory]  {rule}  (docker:index:Container: bad)" in shown, shown
