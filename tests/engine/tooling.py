"""Builds a real Pulumi engine from Go modules, and installs its provider plugins.

No Pulumi release can be downloaded here, only Go modules: tests/engine/go/ holds a wrapper module
for the CLI and one for each bridged provider (tests/engine/go/README.md). This module builds them

    python -m tests.engine.tooling build                      # all three, cached
    python -m tests.engine.tooling install-plugins PULUMI_HOME
    python -m tests.engine.tooling schema random              # the built provider's package schema

into build/engine/<hash>/bin/{pulumi,pulumi-resource-random,pulumi-resource-docker}, where <hash>
covers every file under tests/engine/go/, `go version`, the build recipe below and the plugin
versions (which come from uv.lock: the built providers report the versions of the pinned Python
SDKs). A second build with the same inputs returns at once. The CLI is built first, while the
providers' modules download, and build/engine/cli/pulumi links to it as soon as it exists; then
the providers, one at a time (see _build_all). Each step's time goes to the log and to
build/engine/<hash>/build.json.

Other executables (a language host, stand-in providers) belong in `EngineTools.bin_dir`, beside
the CLI: the CLI counts what it finds beside its own (symlink-resolved) path as bundled plugins.
"""

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
GO_DIR = Path(__file__).resolve().parent / "go"
BUILD_ROOT = ROOT / "build" / "engine"
# Where a colleague finds the newest CLI without knowing the hash: a symlink into <hash>/bin.
CLI_LINK = BUILD_ROOT / "cli" / "pulumi"
UV_LOCK = ROOT / "uv.lock"

# The plugins the built providers stand for, and the Python SDK (in uv.lock) whose version each reports.
PLUGIN_SDKS = {"random": "pulumi-random", "docker": "pulumi-docker"}
# The CLI's version is the one cli/go.mod requires of this module.
CLI_MODULE = "github.com/pulumi/pulumi/pkg/v3"
CLI_VERSION_VAR = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"

# Static binaries (as Pulumi's releases are), no VCS stamps, only the go.sum files' modules, and
# the installed Go whatever the go.mod files say.
GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local", "GOWORK": "off"}

Log = Callable[[str], None]


class EngineBuildError(RuntimeError):
    """A build step failed; the message ends with the tail of its log."""


class GoMissing(EngineBuildError):
    """No `go` on PATH: nothing can be built (nor found: the hash needs `go version`)."""


@dataclass(frozen=True)
class GoBuild:
    """One `go build`: the binary `name`, of `package` in the module folder `module` under GO_DIR."""

    name: str
    module: str
    package: str
    version_var: str
    version: str
    tags: tuple[str, ...] = ()

    def command(self, output: Path) -> list[str]:
        command = ["go", "build", "-trimpath"]
        if self.tags:
            command += ["-tags", ",".join(self.tags)]
        return [*command, "-ldflags", f"-s -w -X {self.version_var}={self.version}", "-o", str(output), self.package]


@dataclass(frozen=True)
class EngineTools:
    """What a build made. `bin_dir` also takes further executables (see the module's docstring)."""

    bin_dir: Path
    # plugin name -> the version its provider reports and is installed as, e.g. {"random": "4.21.4"}
    plugin_versions: Mapping[str, str] = field(default_factory=dict)

    @property
    def cli(self) -> Path:
        return self.bin_dir / "pulumi"

    def provider(self, name: str) -> Path:
        return self.bin_dir / f"pulumi-resource-{name}"

    def env(self, pulumi_home: Path) -> dict[str, str]:
        """The environment to run the CLI in, with its state (plugins, credentials) under `pulumi_home`."""
        return {**os.environ, "PULUMI_HOME": str(pulumi_home), "PULUMI_SKIP_UPDATE_CHECK": "true"}


def locked_versions(lock: Path = UV_LOCK) -> dict[str, str]:
    """Every Python package uv.lock pins, with its version."""
    return {package["name"]: package["version"] for package in tomllib.loads(lock.read_text())["package"]}


def plugin_versions(lock: Path = UV_LOCK) -> dict[str, str]:
    """The version of each plugin's Python SDK as uv.lock pins it."""
    packages = locked_versions(lock)
    missing = sorted(sdk for sdk in PLUGIN_SDKS.values() if sdk not in packages)
    if missing:
        raise EngineBuildError(f"{lock} pins no {', '.join(missing)}")
    return {plugin: packages[sdk] for plugin, sdk in PLUGIN_SDKS.items()}


def cli_version() -> str:
    """The version of the Pulumi CLI module that cli/go.mod requires (v3.x.y)."""
    go_mod = GO_DIR / "cli" / "go.mod"
    found = re.search(rf"^\s*(?:require\s+)?{re.escape(CLI_MODULE)}\s+(v\S+)", go_mod.read_text(), re.MULTILINE)
    if found is None:
        raise EngineBuildError(f"{go_mod} requires no {CLI_MODULE}")
    return found.group(1)


def go_builds(versions: Mapping[str, str]) -> list[GoBuild]:
    """The three builds, the CLI first."""
    return [
        GoBuild("pulumi", "cli", "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi", CLI_VERSION_VAR, cli_version()),
        GoBuild("pulumi-resource-random", "random", ".", "main.version", versions["random"]),
        GoBuild("pulumi-resource-docker", "docker", ".", "main.version", versions["docker"], ("no_compose",)),
    ]


def go_version() -> str:
    if shutil.which("go") is None:
        raise GoMissing("go is not installed (tests/engine/go/ needs it to build the engine)")
    result = subprocess.run(["go", "version"], env={**os.environ, **GO_ENV}, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def input_hash(builds: list[GoBuild]) -> str:
    """A hash of everything the binaries are built from."""
    digest = hashlib.sha256()
    for path in sorted(path for path in GO_DIR.rglob("*") if path.is_file()):
        digest.update(path.relative_to(GO_DIR).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    recipe = {
        "go": go_version(),
        "env": GO_ENV,
        "builds": [[build.module, *build.command(Path(build.name))] for build in builds],
    }
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _tools_for(builds: list[GoBuild], versions: Mapping[str, str]) -> EngineTools:
    return EngineTools(bin_dir=BUILD_ROOT / input_hash(builds) / "bin", plugin_versions=dict(versions))


def _stamp(tools: EngineTools) -> Path:
    """Written last, when every binary is in place."""
    return tools.bin_dir.parent / "build.json"


def _complete(tools: EngineTools, builds: list[GoBuild]) -> bool:
    return _stamp(tools).is_file() and all((tools.bin_dir / build.name).is_file() for build in builds)


def built() -> EngineTools | None:
    """The tools of the current inputs if they are built already; None if not (nothing is built)."""
    versions = plugin_versions()
    builds = go_builds(versions)
    tools = _tools_for(builds, versions)
    return tools if _complete(tools, builds) else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time (pytest workers, a shell and a test session may all ask at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _link_cli(cli: Path) -> None:
    CLI_LINK.parent.mkdir(parents=True, exist_ok=True)
    staged = CLI_LINK.with_name(f".{CLI_LINK.name}.{os.getpid()}")
    staged.unlink(missing_ok=True)
    staged.symlink_to(os.path.relpath(cli, CLI_LINK.parent))
    staged.replace(CLI_LINK)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class _Job:
    """A `go` subprocess of ours, its output going to `log_path`."""

    label: str
    process: "subprocess.Popen[bytes]"
    log: IO[bytes]
    log_path: Path
    started: float

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # go and the compilers it started
            self.process.wait()
        self.log.close()


def _start(label: str, command: list[str], cwd: Path, log_path: Path, *, nice: int = 0) -> _Job:
    log = log_path.open("wb")

    def lower_priority() -> None:
        os.nice(nice)

    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **GO_ENV},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so that _Job.stop ends its compilers too
        preexec_fn=lower_priority if nice else None,
    )
    return _Job(label, process, log, log_path, time.monotonic())


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.0f} MB"


def build(log: Log = print, progress_every: float = 30.0) -> EngineTools:
    """Build the CLI and the providers (or find them built) and return where they are."""
    versions = plugin_versions()
    builds = go_builds(versions)
    tools = _tools_for(builds, versions)
    with _locked(BUILD_ROOT / ".lock"):
        if _complete(tools, builds):
            log(f"engine: built already: {tools.bin_dir}")
            _link_cli(tools.cli)
            return tools
        _build_all(builds, tools, log, progress_every)
    return tools


def _build_all(builds: list[GoBuild], tools: EngineTools, log: Log, progress_every: float) -> None:
    """The CLI's `go build` first; meanwhile the providers' modules download (`go list -deps`, at a
    lower priority); then the providers' builds, one after the other. Compiling one binary at a time
    lets each reuse the packages the ones before it compiled (gRPC, the Pulumi SDK, the bridge):
    three `go build`s at once compile those several times over, and the CLI came out last."""
    logs = tools.bin_dir.parent / "logs"
    tools.bin_dir.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    log(f"engine: building {', '.join(b.name for b in builds)} into {tools.bin_dir} ({go_version()}; logs in {logs})")
    started = time.monotonic()
    waiting = list(builds)
    building: tuple[GoBuild, _Job] | None = None
    downloads: list[_Job] = []
    downloading = False
    seconds: dict[str, float] = {}
    last_report = time.monotonic()
    try:
        while waiting or building:
            if building is None:
                step = waiting.pop(0)
                partial = tools.bin_dir / f".{step.name}.partial"
                job = _start(step.name, step.command(partial), GO_DIR / step.module, logs / f"{step.name}.log")
                building = (step, job)
                log(f"engine:   building {step.name} (go build {step.package} in tests/engine/go/{step.module})")
                if not downloading:
                    downloading = True
                    for later in waiting:
                        tags = ["-tags", ",".join(later.tags)] if later.tags else []
                        downloads.append(
                            _start(
                                f"downloads of {later.name}",
                                ["go", "list", "-deps", *tags, later.package],
                                GO_DIR / later.module,
                                logs / f"{later.name}.download.log",
                                nice=10,
                            )
                        )
                        log(f"engine:   downloading the modules of {later.name} meanwhile")
            time.sleep(0.5)
            for download in [d for d in downloads if d.process.poll() is not None]:
                downloads.remove(download)
                download.stop()
                outcome = "done" if download.process.returncode == 0 else f"failed, see {download.log_path}"
                log(f"engine:   {download.label}: {outcome} ({download.elapsed():.0f} s)")
            step, job = building
            if job.process.poll() is not None:
                building = None
                job.stop()
                if job.process.returncode != 0:
                    raise EngineBuildError(
                        f"go build of {step.name} failed (exit {job.process.returncode}) after {job.elapsed():.0f} s;"
                        f" the end of {job.log_path}:\n{_tail(job.log_path)}"
                    )
                final = tools.bin_dir / step.name
                (tools.bin_dir / f".{step.name}.partial").replace(final)
                seconds[step.name] = round(job.elapsed(), 1)
                log(f"engine:   built {step.name} in {job.elapsed():.0f} s ({_size(final)})")
                if final == tools.cli:
                    _link_cli(final)
                    log(f"engine:   {CLI_LINK} -> {final}")
            elif time.monotonic() - last_report >= progress_every:
                last_report = time.monotonic()
                log(f"engine:   still building {step.name} ({job.elapsed():.0f} s; {len(waiting)} to go)")
    finally:
        for job in [*downloads, *([building[1]] if building else [])]:
            job.stop()
    total = time.monotonic() - started
    record = {
        "go": go_version(),
        "seconds": seconds,
        "total_seconds": round(total, 1),
        "bytes": {build.name: (tools.bin_dir / build.name).stat().st_size for build in builds},
        "plugin_versions": dict(tools.plugin_versions),
    }
    _stamp(tools).write_text(json.dumps(record, indent=2) + "\n")
    log(f"engine: built all in {total:.0f} s: {tools.bin_dir}")


def run_cli(tools: EngineTools, pulumi_home: Path, *args: str) -> str:
    """Run the built CLI with its state under `pulumi_home`; its standard output, or an error with both outputs."""
    result = subprocess.run(
        [str(tools.cli), *args],
        env=tools.env(pulumi_home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise EngineBuildError(
            f"pulumi {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def install_plugins(pulumi_home: Path, tools: EngineTools | None = None, log: Log = print) -> EngineTools:
    """Install the built providers as resource plugins (at the pinned SDKs' versions) into `pulumi_home`."""
    tools = tools or build(log)
    for name, version in tools.plugin_versions.items():
        run_cli(tools, pulumi_home, "plugin", "install", "resource", name, version, "--file", str(tools.provider(name)))
        log(f"engine: installed resource plugin {name} {version} into {pulumi_home}")
    return tools


def package_schema(tools: EngineTools, name: str) -> dict[str, Any]:
    """The package schema that the built provider `name` serves (its GetSchema, asked through the CLI)."""
    with tempfile.TemporaryDirectory(prefix="pulumi-home-") as home:
        schema: dict[str, Any] = json.loads(
            run_cli(tools, Path(home), "package", "get-schema", str(tools.provider(name)))
        )
    return schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.engine.tooling", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build the CLI and the providers (cached by a hash of their inputs)")
    install = commands.add_parser("install-plugins", help="build, then install the providers into a PULUMI_HOME")
    install.add_argument("pulumi_home", type=Path)
    schema = commands.add_parser("schema", help="build, then print a built provider's package schema")
    schema.add_argument("name", choices=sorted(PLUGIN_SDKS))
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        tools = build(log)
        if args.command == "build":
            print(tools.bin_dir)
        elif args.command == "install-plugins":
            install_plugins(args.pulumi_home.resolve(), tools, log)
        else:
            print(json.dumps(package_schema(tools, args.name), indent=2))
    except EngineBuildError as error:
        log(f"engine: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
