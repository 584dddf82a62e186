"""A Python language host for the Pulumi CLI, written in Python: a test stand-in.

Pulumi's own host (`pulumi-language-python`, a Go program in sdk/python/cmd/pulumi-language-python)
cannot be built here, so the tests install this one beside the `pulumi` binary they built (the CLI
then treats it as its bundled python language plugin: pkg workspace.IsPluginBundled). It serves
pulumirpc.LanguageRuntime (proto/pulumi/language.proto of Pulumi 3.274.1, which the SDK's
generated modules in pulumi.runtime.proto match) as far as `pulumi stack init`, `config`, `up`,
`preview` (also with `--policy-pack`), `refresh`, `destroy` and `about` need it:

- GetPluginInfo, Handshake (records the engine's address), Cancel (interrupts running programs).
- GetRequiredPackages: the resource plugins of the program's virtualenv, read from the
  `pulumi-plugin.json` every provider SDK ships (name, version, server), as the real host does;
  packages whose file says `"resource": false` are left out. GetRequiredPlugins answers
  Unimplemented, as the real host does (the CLI then uses GetRequiredPackages).
- Run: starts the program's virtualenv python on python_exec.py with the real host's command line
  (--monitor, --engine, --project, --root_directory, --stack, --pwd, --dry_run, --parallel,
  --organization, the entry point, the args) and environment (PULUMI_CONFIG,
  PULUMI_CONFIG_SECRET_KEYS, the virtualenv activated) and answers with the real host's error
  texts; exit code 32 (message shown already) answers `bail`.
- RunPlugin: policy packs (kind analyzer) through the same proxy the real host uses
  (sdk/go policy_proxy.go): the proxy's port goes to the engine first, the engine's
  ConfigureStack gives the stack's project, stack, organization, dry run and config, which the
  pack then gets as PULUMI_* environment variables when `python -u -m pulumi.policy <args>
  <pack dir>` starts in its virtualenv; every other Analyzer call is forwarded to it. Other
  plugins run `python <plugin dir> <args>`.
- InstallDependencies: installs nothing (the project's venv is made by `make venv`); it says so.
- GetProgramDependencies and About: read from the virtualenv.

Not implemented (Unimplemented): GenerateProgram, GenerateProject, GeneratePackage, Pack, Link,
Template, RuntimeOptionsPrompts; the poetry toolchain, typecheckers, debugger attachment.

Install it with install(bin_dir, venv_python) (a wrapper script named pulumi-language-python that
runs this file with a python that has grpcio and pulumi).
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]  # grpcio ships no type stubs; types-grpcio is no dependency here
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2, language_pb2, language_pb2_grpc, plugin_pb2

# What GetPluginInfo reports: the bundled host has the CLI's version.
VERSION = "3.274.1"
HERE = Path(__file__).resolve().parent
EXEC_SCRIPT = HERE / "python_exec.py"
PLUGIN_NAME = "pulumi-language-python"
# python_exec.py (like pulumi-language-python-exec) exits with this after showing its own message.
EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE = 32
# Pulumi's gRPC channels allow large messages (rpcutil.GrpcChannelOptions).
GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024), ("grpc.max_send_message_length", -1)]
# Packages that are Pulumi's own and have no resource plugin (the real host's packagesWithoutPlugins).
PACKAGES_WITHOUT_PLUGINS = {"pulumi", "pulumi-policy"}


def install(bin_dir: Path, venv_python: Path) -> Path:
    """Write `bin_dir/pulumi-language-python`, a wrapper that runs this host with `venv_python`
    (which needs grpcio and pulumi). Put it beside the real `pulumi` binary (symlinks resolved):
    the CLI looks for its bundled language plugins there."""
    wrapper = bin_dir / PLUGIN_NAME
    wrapper.write_text(f"#!/bin/sh\nexec '{Path(venv_python).absolute()}' '{Path(__file__).resolve()}' \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


# ----------------------------------------------------------------------------- the program's python


class HostError(Exception):
    """A failure the engine is told about as the RPC's error."""


@dataclass(frozen=True)
class PythonEnvironment:
    """Where a program's python comes from (toolchain pip: Pulumi.yaml's runtime.options.virtualenv)."""

    virtualenv: Path | None  # None: the ambient python3 on PATH

    @property
    def python(self) -> str:
        if self.virtualenv is None:
            found = shutil.which("python3") or shutil.which("python")
            if found is None:
                raise HostError("no python3 on PATH and no `virtualenv` option in the project")
            return found
        return str(self.virtualenv / "bin" / "python")

    def validate(self, option: str) -> None:
        if self.virtualenv is not None and not (self.virtualenv / "pyvenv.cfg").is_file():
            state = "doesn't exist" if not self.virtualenv.exists() else "doesn't appear to be a virtual environment"
            raise HostError(
                f"The 'virtualenv' option in Pulumi.yaml is set to {option!r}, but {str(self.virtualenv)!r} {state}; "
                "this test stand-in creates no virtual environments (the project's is made by `make venv`)"
            )

    def environ(self, base: dict[str, str]) -> dict[str, str]:
        """`base` with the virtualenv activated, as the real toolchain's ActivateVirtualEnv does."""
        env = {key: value for key, value in base.items() if key.upper() not in ("PYTHONHOME", "VIRTUAL_ENV")}
        if self.virtualenv is not None:
            bin_dir = str(self.virtualenv / "bin")
            env["PATH"] = bin_dir + os.pathsep + env["PATH"] if env.get("PATH") else bin_dir
            env["VIRTUAL_ENV"] = str(self.virtualenv)
        return env

    def site_packages(self) -> list[Path]:
        if self.virtualenv is None:
            return []
        return sorted(self.virtualenv.glob("lib/python*/site-packages"))


def options_of(info: language_pb2.ProgramInfo) -> dict[str, Any]:
    if not info.HasField("options"):
        return {}
    return json_format.MessageToDict(info.options)


def environment_for(info: language_pb2.ProgramInfo, *, is_plugin: bool) -> tuple[PythonEnvironment, str]:
    """The python environment of a program or plugin and the `virtualenv` option it came from."""
    options = options_of(info)
    toolchain = options.get("toolchain", "pip")
    if toolchain not in ("pip", "uv"):
        raise HostError(f"the {toolchain!r} toolchain is not supported by this test stand-in (pip and uv are)")
    if options.get("typechecker"):
        raise HostError("the `typechecker` option is not supported by this test stand-in")
    option = options.get("virtualenv") or ""
    if not isinstance(option, str):
        raise HostError("virtualenv option must be a string")
    if not option and (toolchain == "uv" or is_plugin):
        option = ".venv" if toolchain == "uv" else "venv"
    if not option:
        return PythonEnvironment(None), option
    path = Path(option)
    if not path.is_absolute():
        path = Path(info.root_directory) / path
    return PythonEnvironment(path), option


# ----------------------------------------------------------------------------- packages in a virtualenv


@dataclass(frozen=True)
class Distribution:
    name: str  # normalised as pip lists it: lower case, '-' separated
    version: str
    top_levels: tuple[Path, ...]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(env: PythonEnvironment) -> list[Distribution]:
    """The installed distributions (from their *.dist-info folders) and their top-level packages."""
    found: dict[str, Distribution] = {}
    for site in env.site_packages():
        for dist_info in sorted(site.glob("*.dist-info")):
            metadata = _read_metadata(dist_info / "METADATA")
            name, version = metadata.get("Name"), metadata.get("Version")
            if not name or not version:
                continue
            tops = [line.strip() for line in _read_lines(dist_info / "top_level.txt") if line.strip()]
            if not tops:
                tops = [name.replace("-", "_")]
            found[_normalise(name)] = Distribution(_normalise(name), version, tuple(site / top for top in tops))
    return sorted(found.values(), key=lambda dist: dist.name)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def _read_metadata(path: Path) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in _read_lines(path):
        if not line:
            break  # the description follows the headers
        key, separator, value = line.partition(": ")
        if separator and key in ("Name", "Version"):
            headers.setdefault(key, value.strip())
    return headers


def plugin_version(package_version: str) -> str | None:
    """A PEP 440 version as a plugin's semver (the real host's determinePluginVersion, its common cases)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?", package_version)
    if not match:
        return None
    release, pre, pre_number, post, dev = match.groups()
    parts = release.split(".")
    version = ".".join([*parts, "0", "0"][: max(3, len(parts))])
    if pre:
        version += "-" + {"a": "alpha", "b": "beta", "rc": "rc"}[pre] + "." + pre_number
    build = "".join(part for part in (f"post{post}" if post else "", f"dev{dev}" if dev else "") if part)
    return version + ("+" + build if build else "")


def required_packages(env: PythonEnvironment) -> list[plugin_pb2.PackageDependency]:
    """The resource plugins the virtualenv's Pulumi packages need (pulumi-plugin.json, or a
    `pulumi-` name and the package's version), as the real host's GetRequiredPackages answers."""
    packages = []
    for dist in distributions(env):
        if dist.name in PACKAGES_WITHOUT_PLUGINS:
            continue
        plugin_json: dict[str, Any] | None = None
        for top in dist.top_levels:
            candidate = top / "pulumi-plugin.json"
            if candidate.is_file():
                try:
                    plugin_json = json.loads(candidate.read_text())
                except (OSError, ValueError) as error:
                    raise HostError(f"failed to parse pulumi-plugin.json for {dist.name}: {error}") from error
                break
        if plugin_json is None and not dist.name.startswith("pulumi-"):
            continue
        if plugin_json is not None and not plugin_json.get("resource"):
            continue
        plugin_json = plugin_json or {}
        name = plugin_json.get("name") or dist.name.removeprefix("pulumi-")
        version = plugin_json.get("version") or plugin_version(dist.version)
        if not version:
            continue
        dependency = plugin_pb2.PackageDependency(
            name=name,
            kind="resource",
            version=version if version.startswith("v") else "v" + version,
            server=plugin_json.get("server", ""),
        )
        for key, target in (("parameterization", dependency.parameterization), ("extension", dependency.extension)):
            value = plugin_json.get(key)
            if isinstance(value, dict):
                target.name = value.get("name", "")
                target.version = value.get("version", "")
                target.value = base64.b64decode(value.get("value") or "")  # []byte in Go's JSON: base64
        packages.append(dependency)
    return packages


# ----------------------------------------------------------------------------- child processes


class Children:
    """The programs and plugins this host started, so Cancel and a dying engine can end them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen[bytes]] = set()

    def add(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.add(process)

    def discard(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._processes.discard(process)

    def interrupt_all(self) -> None:
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGINT, then SIGKILL after `grace` seconds (the real host's cmd.Cancel and WaitDelay)."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except ProcessLookupError:
        pass


# ----------------------------------------------------------------------------- the policy pack proxy


class AnalyzerProxy:
    """The real host's PolicyProxy (sdk/go policy_proxy.go): an Analyzer server the engine talks to
    first. Handshake is answered here; ConfigureStack is kept (the pack starts with its contents in
    its environment) and forwarded once the pack runs; every other call waits for the pack and is
    forwarded to it byte for byte."""

    SERVICE = "/pulumirpc.Analyzer/"

    def __init__(self) -> None:
        self._configured = threading.Event()
        self._configuration: bytes | None = None
        self._ready = threading.Event()
        self._channel: Any = None
        self._failure: str | None = None
        self._server: Any = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=GRPC_OPTIONS)
        self._server.add_generic_rpc_handlers((_generic_handler(self._handle),))
        self.port: int = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def await_configuration(self, is_active: Callable[[], bool]) -> analyzer_pb2.AnalyzerStackConfigureRequest | None:
        while not self._configured.wait(timeout=0.2):
            if not is_active():
                raise HostError("the engine went away before it configured the policy pack")
        if self._configuration is None:
            return None
        return analyzer_pb2.AnalyzerStackConfigureRequest.FromString(self._configuration)

    def attach(self, port: int) -> None:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=GRPC_OPTIONS)
        if self._configuration is not None:
            configure = channel.unary_unary(self.SERVICE + "ConfigureStack")
            try:
                configure(self._configuration)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                    self.abort(f"policy pack configuration failed: {error.details()}")
                    return
        self._channel = channel
        self._ready.set()

    def abort(self, reason: str) -> None:
        self._failure = f"policy pack failed to start: {reason}"
        self._ready.set()

    def close(self) -> None:
        self._server.stop(grace=None)
        if self._channel is not None:
            self._channel.close()

    def _handle(self, method: str, request: bytes, context: Any) -> bytes:
        name = method.removeprefix(self.SERVICE)
        if name == "Handshake":
            return analyzer_pb2.AnalyzerHandshakeResponse().SerializeToString()
        if name == "ConfigureStack":
            if not self._configured.is_set():
                self._configuration = request
                self._configured.set()
            return analyzer_pb2.AnalyzerStackConfigureResponse().SerializeToString()
        # Anything before ConfigureStack (e.g. for `pulumi policy publish`) starts the pack unconfigured.
        self._configured.set()
        while not self._ready.wait(timeout=0.2):
            if not context.is_active():
                context.abort(grpc.StatusCode.CANCELLED, "cancelled while the policy pack started")
        if self._failure is not None or self._channel is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, self._failure or "policy pack not started")
        try:
            response: bytes = self._channel.unary_unary(method)(request)
        except grpc.RpcError as error:
            context.abort(error.code(), error.details() or "")
        return response


def _generic_handler(handle: Callable[[str, bytes, Any], bytes]) -> Any:
    """Every (unary) Analyzer method, undecoded, routed to `handle(method, request, context)`."""

    def route(method: str) -> Any:
        return grpc.unary_unary_rpc_method_handler(lambda request, context: handle(method, request, context))

    service = analyzer_pb2.DESCRIPTOR.services_by_name["Analyzer"]
    return grpc.method_handlers_generic_handler(
        service.full_name, {m.name: route(f"/{service.full_name}/{m.name}") for m in service.methods}
    )


# ----------------------------------------------------------------------------- output pumping


@dataclass
class _Pump:
    """Collects a child's stdout and stderr chunks, in order of arrival, for a streaming response."""

    chunks: queue.Queue[tuple[str, bytes | None]] = field(default_factory=queue.Queue)
    open_streams: int = 0

    def start(self, name: str, stream: Any, first_line: Callable[[bytes], None] | None = None) -> None:
        self.open_streams += 1
        threading.Thread(target=self._read, args=(name, stream, first_line), daemon=True).start()

    def _read(self, name: str, stream: Any, first_line: Callable[[bytes], None] | None) -> None:
        try:
            if first_line is not None:
                first_line(stream.readline())
            while chunk := stream.read1(65536):
                self.chunks.put((name, chunk))
        finally:
            self.chunks.put((name, None))

    def drain(self) -> Iterator[tuple[str, bytes]]:
        while self.open_streams:
            name, chunk = self.chunks.get()
            if chunk is None:
                self.open_streams -= 1
            else:
                yield name, chunk


# ----------------------------------------------------------------------------- the language runtime


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str | None) -> None:
        self.engine_address = engine_address
        self.programs = Children()  # what Run started: Cancel interrupts them
        self.plugins = Children()  # what RunPlugin started: they end with their RPC

    # -- plumbing

    def GetPluginInfo(self, request: empty_pb2.Empty, context: Any) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=VERSION)

    def Handshake(
        self, request: language_pb2.LanguageHandshakeRequest, context: Any
    ) -> language_pb2.LanguageHandshakeResponse:
        self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def Cancel(self, request: empty_pb2.Empty, context: Any) -> empty_pb2.Empty:
        self.programs.interrupt_all()
        return empty_pb2.Empty()

    # -- dependencies

    def GetRequiredPlugins(self, request: language_pb2.GetRequiredPluginsRequest, context: Any) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "method GetRequiredPlugins not implemented")

    def GetRequiredPackages(
        self, request: language_pb2.GetRequiredPackagesRequest, context: Any
    ) -> language_pb2.GetRequiredPackagesResponse:
        env = self._environment(request.info, context, is_plugin=False)
        return language_pb2.GetRequiredPackagesResponse(packages=required_packages(env))

    def GetProgramDependencies(
        self, request: language_pb2.GetProgramDependenciesRequest, context: Any
    ) -> language_pb2.GetProgramDependenciesResponse:
        env = self._environment(request.info, context, is_plugin=False)
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[language_pb2.DependencyInfo(name=d.name, version=d.version) for d in distributions(env)]
        )

    def InstallDependencies(
        self, request: language_pb2.InstallDependenciesRequest, context: Any
    ) -> Iterator[language_pb2.InstallDependenciesResponse]:
        try:
            env, option = environment_for(request.info, is_plugin=request.is_plugin)
        except HostError as error:
            context.abort(grpc.StatusCode.UNKNOWN, str(error))
        where = str(env.virtualenv) if env.virtualenv else "the ambient python"
        yield language_pb2.InstallDependenciesResponse(
            stdout=(
                f"Installing dependencies is not done by this test stand-in of pulumi-language-python: "
                f"{where} is used as it is (the project's venv is made by `make venv`).\n"
            ).encode()
        )
        try:
            env.validate(option)
        except HostError as error:
            yield language_pb2.InstallDependenciesResponse(stderr=f"{error}\n".encode())

    def About(self, request: language_pb2.AboutRequest, context: Any) -> language_pb2.AboutResponse:
        env = self._environment(request.info, context, is_plugin=False) if request.HasField("info") else None
        python = env.python if env else (shutil.which("python3") or "python3")
        try:
            output = subprocess.run([python, "--version"], capture_output=True, text=True, timeout=30).stdout
        except OSError as error:
            context.abort(grpc.StatusCode.UNKNOWN, f"could not run {python}: {error}")
        return language_pb2.AboutResponse(
            executable=python,
            version=output.strip().removeprefix("Python "),
            metadata={"toolchain": "pip", "toolchainVersion": "", "typechecker": "none"},
        )

    def _environment(self, info: language_pb2.ProgramInfo, context: Any, *, is_plugin: bool) -> PythonEnvironment:
        try:
            env, option = environment_for(info, is_plugin=is_plugin)
            env.validate(option)
            env.python  # noqa: B018  # raises HostError when there is no python at all
        except HostError as error:
            context.abort(grpc.StatusCode.UNKNOWN, str(error))
        return env

    # -- programs

    def Run(self, request: language_pb2.RunRequest, context: Any) -> language_pb2.RunResponse:
        if not self.engine_address:
            context.abort(
                grpc.StatusCode.UNKNOWN, "when debugging or running explicitly, must call Handshake before Run"
            )
        if request.attach_debugger:
            return language_pb2.RunResponse(error="debugging is not supported by this test stand-in")
        env = self._environment(request.info, context, is_plugin=False)
        command = [env.python, str(EXEC_SCRIPT), *self._arguments(request)]
        environ = env.environ(dict(os.environ))
        if request.config:
            environ["PULUMI_CONFIG"] = json.dumps(dict(request.config), separators=(",", ":"))
        environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys), separators=(",", ":"))
        try:
            # stdout and stderr are this host's own, which the engine shows as the program's output.
            process = subprocess.Popen(command, env=environ, stdin=subprocess.DEVNULL)
        except OSError as error:
            return language_pb2.RunResponse(
                error=f"problem executing program (could not run language executor): {error}"
            )
        self.programs.add(process)
        context.add_callback(lambda: stop(process))
        try:
            code = process.wait()
        finally:
            self.programs.discard(process)
            sys.stdout.flush()
            sys.stderr.flush()
        if code == 0:
            return language_pb2.RunResponse()
        if code == EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE:
            return language_pb2.RunResponse(bail=True)
        if code < 0:
            return language_pb2.RunResponse(error=f"program exited unexpectedly: signal: {signal.Signals(-code).name}")
        return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {code}")

    def _arguments(self, request: language_pb2.RunRequest) -> list[str]:
        args: list[str] = []
        for option, value in (
            ("monitor", request.monitor_address),
            ("engine", self.engine_address or ""),
            ("project", request.project),
            ("root_directory", request.info.root_directory),
            ("stack", request.stack),
            ("pwd", request.pwd),
            ("dry_run", "true" if request.dryRun else "false"),
            ("parallel", str(request.parallel)),
            ("organization", request.organization),
        ):
            if value:
                args += [f"--{option}", value]
        return [*args, request.info.entry_point or ".", *request.args]

    # -- plugins (policy packs)

    def RunPlugin(
        self, request: language_pb2.RunPluginRequest, context: Any
    ) -> Iterator[language_pb2.RunPluginResponse]:
        analyzer = request.kind == "analyzer"
        env = self._environment(request.info, context, is_plugin=not analyzer)
        program_dir = request.info.program_directory
        environ = env.environ(dict(os.environ))
        proxy: AnalyzerProxy | None = None
        if analyzer:
            proxy = AnalyzerProxy()
            yield language_pb2.RunPluginResponse(stdout=f"{proxy.port}\n".encode())
            try:
                configuration = proxy.await_configuration(context.is_active)
            except HostError as error:
                proxy.close()
                context.abort(grpc.StatusCode.CANCELLED, str(error))
            if configuration is not None:
                for key, value in (
                    ("PULUMI_ORGANIZATION", configuration.organization),
                    ("PULUMI_PROJECT", configuration.project),
                    ("PULUMI_STACK", configuration.stack),
                    ("PULUMI_DRY_RUN", "true" if configuration.dry_run else "false"),
                    ("PULUMI_CONFIG", json.dumps(dict(configuration.config)) if configuration.config else ""),
                ):
                    if value:
                        environ[key] = value
            command = [env.python, "-u", "-m", "pulumi.policy", *request.args, program_dir]
            cwd = program_dir
        else:
            command = [env.python, program_dir, *request.args]
            cwd = request.pwd or program_dir
        for entry in request.env:
            key, _, value = entry.partition("=")
            environ[key] = value
        try:
            process = subprocess.Popen(
                command, cwd=cwd, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as error:
            if proxy is not None:
                proxy.abort(str(error))
                proxy.close()
            context.abort(
                grpc.StatusCode.UNKNOWN, f"problem executing plugin program (could not run language executor): {error}"
            )
        self.plugins.add(process)
        context.add_callback(lambda: stop(process))
        pump = _Pump()
        if proxy is not None:
            attached = proxy

            def first_line(line: bytes) -> None:
                if line.strip().isdigit():
                    attached.attach(int(line))
                else:
                    attached.abort(f"could not read policy pack port from {line!r}")
                    if line:
                        pump.chunks.put(("stdout", line))

            pump.start("stdout", process.stdout, first_line)
        else:
            pump.start("stdout", process.stdout)
        pump.start("stderr", process.stderr)
        try:
            for name, chunk in pump.drain():
                yield (
                    language_pb2.RunPluginResponse(stdout=chunk)
                    if name == "stdout"
                    else language_pb2.RunPluginResponse(stderr=chunk)
                )
            code = process.wait()
            if proxy is not None and code != 0:
                proxy.abort(f"exit code {code}")
            yield language_pb2.RunPluginResponse(exitcode=code if code >= 0 else 128 - code)
        finally:
            self.plugins.discard(process)
            stop(process)
            if proxy is not None:
                proxy.close()


# ----------------------------------------------------------------------------- serving


def serve(engine_address: str | None) -> None:
    host = LanguageHost(engine_address)
    server: Any = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=GRPC_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port: int = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # The engine reads the port from the first line of stdout.
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()

    done = threading.Event()

    def shut_down(*_: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, shut_down)
    signal.signal(signal.SIGTERM, shut_down)
    parent = os.getppid()
    # The real host health-checks the engine and exits when it is gone; here: when the CLI is.
    while not done.wait(timeout=1.0):
        if os.getppid() != parent:
            break
    host.programs.interrupt_all()
    host.plugins.interrupt_all()
    server.stop(grace=None)


def main(argv: list[str]) -> None:
    """Flags the CLI passes plugins (--logtostderr, -v=N, --tracing X, -use-executor X) are accepted
    and ignored; the engine's address is the last argument."""
    if argv[:1] in (["-version"], ["--version"]):
        print(VERSION)
        return
    takes_value = {"-tracing", "--tracing", "-use-executor", "--use-executor"}
    positional: list[str] = []
    previous = ""
    for arg in argv:
        if not arg.startswith("-") and previous not in takes_value:
            positional.append(arg)
        previous = arg
    serve(positional[-1] if positional else None)


if __name__ == "__main__":
    main(sys.argv[1:])
