"""The live test engine: the program, unchanged, deployed for real under Pulumi's mocks.

`LiveMocks.new_resource` creates what each registration describes and returns its real
outputs, so the SDK's own scheduling orders and parallelizes the work as the engine would: a
resource is registered only once every Output it takes has resolved, and a container that
`depends_on` another is created only after that one's registration has returned (healthy).

What it does, following the providers' create (file and function named at each handler):
- docker networks, volumes, pulled images (which must exist locally: the stand-ins), images
  built from images/ with BuildKit, and containers with every input the program uses;
- postgresql roles, databases, grants, default privileges and publications, with the SQL that
  cyrilgdn/terraform-provider-postgresql issues, through the provider's own host and port;
- random passwords, strings and bytes, really random with the lengths and sets asked for.

What it does NOT reproduce: the engine's state, diffs, updates, replacements, refresh and
read-back (the read-back tests cover those), provider-side retries, MinIO (no distribution of
it may be used here), and any resource type not handled below, which fails loudly rather than
being skipped. It is a test harness: users deploy with `pulumi up`.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import grp
import io
import pwd
import re
import secrets
import string
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import psycopg
from psycopg import sql
from pulumi.runtime import mocks

from scripts.offline import ROOT, Deployment, main_program, reveal, run_function
from tests.live.dockerd import TestDaemon

NOT_REPRODUCED = "the live test engine does not reproduce"


@dataclass
class ContainerTiming:
    name: str
    created: float  # monotonic seconds
    ready: float  # healthy, exited (a job) or created (not started)
    exit_code: int | None = None

    @property
    def seconds(self) -> float:
        return self.ready - self.created


@dataclass
class Created:
    """Something the engine made, so teardown can remove it."""

    kind: str  # container | network | volume | image
    ident: str
    grace: int = 0  # seconds a container gets to stop (destroy_grace_seconds)


@dataclass
class LiveDeployment:
    deployment: Deployment
    mocks: LiveMocks
    seconds: float

    @property
    def outputs(self) -> dict[str, Any]:
        return self.deployment.outputs


class LiveMocks(mocks.Mocks):
    def __init__(self, daemon: TestDaemon, *, project_root: Path = ROOT, build_log: Callable[[str], None] = print):
        super().__init__()
        self.daemon = daemon
        self.project_root = project_root
        self.api = docker.APIClient(base_url=daemon.host, version="auto", timeout=900)
        self.log = build_log
        self.created: list[Created] = []
        self.timings: dict[str, ContainerTiming] = {}
        self.image_builds: dict[str, float] = {}
        self.generated_secrets: set[str] = set()
        self._providers: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[mocks.MockResourceArgs], tuple[str, dict[str, Any]]]] = {
            "random:index/randomPassword:RandomPassword": self._random_string,
            "random:index/randomString:RandomString": self._random_string,
            "random:index/randomBytes:RandomBytes": self._random_bytes,
            "docker:index/network:Network": self._network,
            "docker:index/volume:Volume": self._volume,
            "docker:index/remoteImage:RemoteImage": self._remote_image,
            "docker:index/image:Image": self._built_image,
            "docker:index/container:Container": self._container,
            "postgresql:index/role:Role": self._pg_role,
            "postgresql:index/database:Database": self._pg_database,
            "postgresql:index/grant:Grant": self._pg_grant,
            "postgresql:index/defaultPrivileges:DefaultPrivileges": self._pg_default_privileges,
            "postgresql:index/publication:Publication": self._pg_publication,
        }

    # ---- the Mocks interface -----------------------------------------------------------

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = _as_sent(args.inputs)
        if not args.custom:  # a component: nothing to create
            return "", inputs
        if args.typ.startswith("pulumi:providers:"):
            return self._provider(args.typ, args.name, inputs)
        handler = self._handlers.get(args.typ)
        if handler is None:
            raise NotImplementedError(f"{NOT_REPRODUCED} {args.typ} ({args.name})")
        args.inputs = inputs
        return handler(args)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list | None]:
        raise NotImplementedError(f"{NOT_REPRODUCED} the function call {args.token}")

    # ---- providers ---------------------------------------------------------------------

    def _provider(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        package = typ.removeprefix("pulumi:providers:")
        if package == "docker" and inputs.get("host") not in (None, "", self.daemon.host):
            raise ValueError(f"provider {name} points at {inputs['host']}; the live tests use only {self.daemon.host}")
        if package not in ("docker", "postgresql", "random"):
            raise NotImplementedError(f"{NOT_REPRODUCED} the {package} provider ({name})")
        ident = f"{package}-{name}-provider"
        self._providers[ident] = inputs
        return ident, inputs

    def _provider_inputs(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        ident = (args.provider or "").rpartition("::")[2]
        if ident not in self._providers:
            raise ValueError(f"{args.typ} {args.name} has no explicit provider the engine knows ({args.provider!r})")
        return self._providers[ident]

    # ---- random (pulumi-random: the same generation rules, real randomness) -------------

    def _random_string(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = args.inputs
        length = int(inputs["length"])
        sets = {
            "lower": (string.ascii_lowercase, inputs.get("lower", True), int(inputs.get("minLower", 0))),
            "upper": (string.ascii_uppercase, inputs.get("upper", True), int(inputs.get("minUpper", 0))),
            "numeric": (string.digits, inputs.get("numeric", True), int(inputs.get("minNumeric", 0))),
            "special": (
                inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?",
                inputs.get("special", True),
                int(inputs.get("minSpecial", 0)),
            ),
        }
        chars = [secrets.choice(charset) for charset, on, minimum in sets.values() if on for _ in range(minimum)]
        alphabet = "".join(charset for charset, on, _ in sets.values() if on)
        chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
        secrets.SystemRandom().shuffle(chars)
        result = "".join(chars)
        self.generated_secrets.add(result)
        return f"{args.name}-id", {**inputs, "result": result}

    def _random_bytes(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        raw = secrets.token_bytes(int(args.inputs["length"]))
        outputs = {"base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
        self.generated_secrets.update(outputs.values())
        return f"{args.name}-id", {**args.inputs, **outputs}

    # ---- docker (kreuzwerker/terraform-provider-docker, internal/provider/*) ---------------

    def _network(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = args.inputs
        _only(inputs, {"name", "internal", "labels", "driver", "attachable"}, args)
        created = self.api.create_network(
            inputs["name"],
            driver=inputs.get("driver") or "bridge",
            internal=bool(inputs.get("internal")),
            labels=_labels(inputs),
            attachable=bool(inputs.get("attachable")),
            check_duplicate=True,
        )
        self._remember(Created("network", created["Id"]))
        return created["Id"], inputs

    def _volume(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = args.inputs
        _only(inputs, {"name", "labels", "driver"}, args)
        # VolumeCreate answers with the existing volume of that name: a retained volume is reused.
        existed = any(v["Name"] == inputs["name"] for v in self.api.volumes().get("Volumes") or [])
        volume = self.api.create_volume(inputs["name"], driver=inputs.get("driver") or "local", labels=_labels(inputs))
        if not existed:
            self._remember(Created("volume", volume["Name"]))
        return volume["Name"], {**inputs, "mountpoint": volume["Mountpoint"]}

    def _remote_image(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        name = args.inputs["name"]
        try:
            image = self.api.inspect_image(name)
        except docker.errors.ImageNotFound:
            raise RuntimeError(
                f"{name}: no stand-in image of this name is built (tests/live/standins); no registry "
                "can be reached here"
            ) from None
        return image["Id"], {**args.inputs, "imageId": image["Id"], "repoDigest": image["Id"]}

    def _built_image(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """pulumi-docker's Image: a BuildKit build of context/dockerfile, tagged image_name, not pushed."""
        inputs = args.inputs
        build = inputs.get("build") or {}
        _only(build, {"context", "dockerfile", "args", "platform", "builderVersion", "target"}, args, "build.")
        context = self.project_root / build.get("context", ".")
        command = [
            "docker",
            "build",
            "--network",
            "host",
            "--tag",
            inputs["imageName"],
            "--file",
            str(self.project_root / build["dockerfile"]) if build.get("dockerfile") else str(context / "Dockerfile"),
        ]
        if build.get("platform"):
            command += ["--platform", build["platform"]]
        if build.get("target"):
            command += ["--target", build["target"]]
        for key, value in (build.get("args") or {}).items():
            command += ["--build-arg", f"{key}={value}"]
        started = time.monotonic()
        result = subprocess.run(
            [*command, str(context)], env=self._buildkit_env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"building {inputs['imageName']} failed:\n"
                + "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            )
        self.image_builds[inputs["imageName"]] = time.monotonic() - started
        image_id = self.api.inspect_image(inputs["imageName"])["Id"]
        return image_id, {**inputs, "repoDigest": image_id, "context": str(context), "platform": build.get("platform")}

    def _buildkit_env(self) -> dict[str, str]:
        env = self.daemon.env()
        # Debian's 20.10 client builds with BuildKit by itself; a newer client without buildx cannot.
        env["PATH"] = "/usr/bin:" + env.get("PATH", "")
        return env

    CONTAINER_INPUTS = frozenset(
        {
            "name",
            "hostname",
            "image",
            "command",
            "entrypoints",
            "envs",
            "uploads",
            "volumes",
            "ports",
            "networksAdvanced",
            "labels",
            "memory",
            "memorySwap",
            "cpus",
            "user",
            "logDriver",
            "logOpts",
            "restart",
            "mustRun",
            "attach",
            "logs",
            "start",
            "healthcheck",
            "wait",
            "waitTimeout",
            "shmSize",
            "destroyGraceSeconds",
            "stopSignal",
            "stopTimeout",
            "init",
            "workingDir",
            "groupAdds",
            "rm",
            "dnsOpts",
        }
    )

    def _container(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """resourceDockerContainerCreate (internal/provider/resource_docker_container_funcs.go):
        create on the default bridge, leave it for networks_advanced (with aliases), write the
        uploads as a tar at /, start, wait until healthy (`wait`) or until it stops (`attach`)."""
        inputs = args.inputs
        _only(inputs, self.CONTAINER_INPUTS, args)
        name = inputs["name"]
        started = time.monotonic()
        container = self.api.create_container(
            image=inputs["image"],
            name=name,
            hostname=inputs.get("hostname"),
            command=inputs.get("command"),
            entrypoint=inputs.get("entrypoints"),
            environment=list(inputs.get("envs") or []),
            user=inputs.get("user") or "",
            labels=_labels(inputs),
            working_dir=inputs.get("workingDir"),
            healthcheck=_healthcheck(inputs.get("healthcheck")),
            ports=[(p["internal"], p.get("protocol", "tcp")) for p in inputs.get("ports") or []],
            stop_signal=inputs.get("stopSignal"),
            stop_timeout=inputs.get("stopTimeout"),
            host_config=self._host_config(inputs),
        )
        ident = container["Id"]
        self._remember(Created("container", ident, int(inputs.get("destroyGraceSeconds") or 0)))
        if inputs.get("networksAdvanced"):
            self.api.disconnect_container_from_network(ident, "bridge")
            for network in inputs["networksAdvanced"]:
                self.api.connect_container_to_network(ident, network["name"], aliases=network.get("aliases"))
        if inputs.get("uploads"):
            for upload in inputs["uploads"]:
                self.api.put_archive(ident, "/", _upload_tar(upload))
        exit_code = None
        if inputs.get("start", True):
            self.api.start(ident)
            if inputs.get("wait"):
                self._wait_healthy(ident, name, int(inputs.get("waitTimeout") or 60))
            if inputs.get("attach"):
                exit_code = self.api.wait(ident)["StatusCode"]
        self.timings[name] = ContainerTiming(name, started, time.monotonic(), exit_code)
        state = self.api.inspect_container(ident)["State"]
        return ident, {
            **inputs,
            "exitCode": state.get("ExitCode") if exit_code is None else exit_code,
            "networkDatas": [],
        }

    def _host_config(self, inputs: dict[str, Any]) -> dict[str, Any]:
        binds = [
            f"{v.get('volumeName') or v.get('hostPath')}:{v['containerPath']}" + (":ro" if v.get("readOnly") else "")
            for v in inputs.get("volumes") or []
        ]
        restart = inputs.get("restart") or "no"
        memory = int(inputs["memory"]) * 1024 * 1024 if inputs.get("memory") else None
        swap = inputs.get("memorySwap")
        return self.api.create_host_config(
            binds=binds,
            port_bindings={
                f"{p['internal']}/{p.get('protocol', 'tcp')}": (p.get("ip", "0.0.0.0"), p["external"])
                for p in inputs.get("ports") or []
                if p.get("external")
            },
            restart_policy={"Name": restart} if restart != "no" else None,
            mem_limit=memory,
            memswap_limit=int(swap) * 1024 * 1024 if swap and int(swap) > 0 else swap,
            nano_cpus=round(float(inputs["cpus"]) * 1e9) if inputs.get("cpus") else None,
            shm_size=int(inputs["shmSize"]) * 1024 * 1024 if inputs.get("shmSize") else None,
            log_config={"Type": inputs.get("logDriver") or "json-file", "Config": inputs.get("logOpts") or {}},
            init=bool(inputs.get("init", False)),
            group_add=inputs.get("groupAdds"),
            auto_remove=bool(inputs.get("rm", False)),
            dns_opt=inputs.get("dnsOpts"),
        )

    def _wait_healthy(self, ident: str, name: str, timeout: int) -> None:
        """The provider polls every second until Health.Status is healthy, failing at wait_timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api.inspect_container(ident)["State"]
            if state.get("Health") is None:
                raise RuntimeError(f"{name}: 'wait' without a healthcheck")
            if state["Health"]["Status"] == "healthy":
                return
            time.sleep(1)
        logs = self.api.logs(ident, tail=30).decode(errors="replace")
        health = (self.api.inspect_container(ident)["State"].get("Health") or {}).get("Log") or [{}]
        raise RuntimeError(
            f"container {name} failed to be in healthy state within {timeout} s; last check: "
            f"{health[-1].get('Output', '')!r}\nlast logs:\n{logs}"
        )

    # ---- postgresql (cyrilgdn/terraform-provider-postgresql, postgresql/resource_*.go) -----

    def _connect(self, args: mocks.MockResourceArgs, database: str | None = None) -> psycopg.Connection:
        provider = self._provider_inputs(args)
        return psycopg.connect(
            host=provider.get("host", "localhost"),
            port=int(provider.get("port", 5432)),
            user=provider.get("username", "postgres"),
            password=provider.get("password"),
            dbname=database or provider.get("database") or "postgres",
            sslmode=provider.get("sslmode") or "prefer",
            connect_timeout=int(provider.get("connectTimeout") or 180),
            autocommit=True,
        )

    def _pg_role(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """resource_postgresql_role.go createRole: CREATE ROLE with every option spelled out."""
        inputs = args.inputs
        flags = [
            ("superuser", "SUPERUSER", "NOSUPERUSER"),
            ("createDatabase", "CREATEDB", "NOCREATEDB"),
            ("createRole", "CREATEROLE", "NOCREATEROLE"),
            ("inherit", "INHERIT", "NOINHERIT"),
            ("login", "LOGIN", "NOLOGIN"),
            ("replication", "REPLICATION", "NOREPLICATION"),
            ("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"),
        ]
        defaults = {"inherit": True}
        options = [sql.SQL(on if inputs.get(key, defaults.get(key, False)) else off) for key, on, off in flags]
        if inputs.get("password"):
            options.append(sql.SQL("PASSWORD {}").format(sql.Literal(inputs["password"])))
        options += [
            sql.SQL("VALID UNTIL 'infinity'"),
            sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(inputs.get("connectionLimit", -1)))),
        ]
        with self._connect(args) as connection:
            connection.execute(
                sql.SQL("CREATE ROLE {} WITH ").format(sql.Identifier(inputs["name"])) + sql.SQL(" ").join(options)
            )
            for member_of in inputs.get("roles") or []:
                connection.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(member_of), sql.Identifier(inputs["name"]))
                )
        return inputs["name"], inputs

    def _pg_database(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """resource_postgresql_database.go createDatabase."""
        inputs = args.inputs
        statement = sql.SQL(
            "CREATE DATABASE {} OWNER {} TEMPLATE {} ENCODING {} ALLOW_CONNECTIONS {} "
            "CONNECTION LIMIT {} IS_TEMPLATE {}"
        ).format(
            sql.Identifier(inputs["name"]),
            sql.Identifier(inputs.get("owner") or "postgres"),
            sql.Identifier(inputs.get("template") or "template0"),
            sql.Literal(inputs.get("encoding") or "UTF8"),
            sql.SQL("true" if inputs.get("allowConnections", True) else "false"),
            sql.Literal(int(inputs.get("connectionLimit", -1))),
            sql.SQL("true" if inputs.get("isTemplate") else "false"),
        )
        with self._connect(args) as connection:
            connection.execute(statement)
        return inputs["name"], inputs

    def _pg_grant(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """resource_postgresql_grant.go: revoke what the role has on the objects, then grant `privileges`."""
        inputs = args.inputs
        role = sql.SQL("PUBLIC") if inputs["role"] == "public" else sql.Identifier(inputs["role"])
        privileges = sql.SQL(", ").join(sql.SQL(p) for p in inputs.get("privileges") or [])
        kind = inputs["objectType"]
        with self._connect(args, inputs["database"]) as connection:
            if kind == "database":
                target = sql.SQL("DATABASE {}").format(sql.Identifier(inputs["database"]))
            elif kind in ("table", "sequence") and not inputs.get("objects"):
                target = sql.SQL("ALL {}S IN SCHEMA {}").format(sql.SQL(kind.upper()), sql.Identifier(inputs["schema"]))
            elif kind == "schema":
                target = sql.SQL("SCHEMA {}").format(sql.Identifier(inputs["schema"]))
            else:
                raise NotImplementedError(f"{NOT_REPRODUCED} grants on {kind} objects {inputs.get('objects')}")
            connection.execute(sql.SQL("REVOKE ALL PRIVILEGES ON {} FROM {}").format(target, role))
            if inputs.get("privileges"):
                connection.execute(sql.SQL("GRANT {} ON {} TO {}").format(privileges, target, role))
        return f"{inputs['role']}_{inputs['database']}_{kind}", inputs

    def _pg_default_privileges(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = args.inputs
        with self._connect(args, inputs["database"]) as connection:
            connection.execute(
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT {} ON {}S TO {}").format(
                    sql.Identifier(inputs["owner"]),
                    sql.Identifier(inputs["schema"]),
                    sql.SQL(", ").join(sql.SQL(p) for p in inputs["privileges"]),
                    sql.SQL(inputs["objectType"].upper()),
                    sql.Identifier(inputs["role"]),
                )
            )
        return f"{inputs['role']}_{inputs['database']}_{inputs['objectType']}", inputs

    def _pg_publication(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = args.inputs
        if not inputs.get("allTables"):
            raise NotImplementedError(f"{NOT_REPRODUCED} publications of listed tables")
        with self._connect(args, inputs["database"]) as connection:
            connection.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(inputs["name"])))
        return f"{inputs['database']}.{inputs['name']}", inputs

    # ---- teardown ----------------------------------------------------------------------

    def _remember(self, created: Created) -> None:
        with self._lock:
            self.created.append(created)

    def teardown(self, *, keep_volumes: bool = False, images: bool = False) -> list[str]:
        """Remove what this engine created, newest first (containers get their grace period)."""
        problems = []
        for item in reversed(self.created):
            try:
                if item.kind == "container":
                    self.api.stop(item.ident, timeout=item.grace)
                    self.api.remove_container(item.ident, force=True)
                elif item.kind == "network":
                    self.api.remove_network(item.ident)
                elif item.kind == "volume" and not keep_volumes:
                    self.api.remove_volume(item.ident, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                problems.append(f"{item.kind} {item.ident}: {error}")
        if images:
            for name in self.image_builds:
                try:
                    self.api.remove_image(name, force=True)
                except docker.errors.APIError as error:
                    problems.append(f"image {name}: {error}")
        self.created.clear()
        return problems


LAST_ENGINE: LiveMocks | None = None  # the latest deploy's engine, to clean up after a failed one


def deploy(config: dict[str, str], daemon: TestDaemon, *, stack: str = "e2e") -> LiveDeployment:
    """Run __main__.py with `config` (engine form) against the test daemon, for real."""
    return deploy_function(main_program, config, daemon, stack=stack)


def deploy_function(
    program: Callable[[], Any], config: dict[str, str], daemon: TestDaemon, *, stack: str, workers: int = 64
) -> LiveDeployment:
    """Run a Pulumi program function for real, as one `pulumi up` would: a new program process
    (no runtime settings left over, a new event loop), against the test daemon only."""
    global LAST_ENGINE
    from pulumi.runtime import reset_options

    reset_options()
    engine = LAST_ENGINE = LiveMocks(daemon)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The SDK sends every registration through the loop's default executor; its default size
    # (a few threads on 2 cores) would serialize the containers that wait to be healthy.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=workers))
    started = time.monotonic()
    # The program's Docker provider points where `docker:host` says: at this daemon, nowhere else.
    deployment = run_function(program, {**config, "docker:host": daemon.host}, stack=stack, live_mocks=engine)
    return LiveDeployment(deployment, engine, time.monotonic() - started)


# ---- helpers ---------------------------------------------------------------------------


def _as_sent(value: Any) -> Any:
    """Inputs as the provider gets them: secrets unwrapped (offline.reveal), and whole numbers as
    integers (the wire carries every number as a double; the Docker API refuses 30.0 for an int)."""
    return _whole_numbers(reveal(value))


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _only(
    inputs: dict[str, Any], known: frozenset[str] | set[str], args: mocks.MockResourceArgs, prefix: str = ""
) -> None:
    unknown = sorted(set(inputs) - set(known) - {"__defaults"})
    if unknown:
        raise NotImplementedError(
            f"{NOT_REPRODUCED} {args.typ} inputs {', '.join(prefix + u for u in unknown)} "
            f"({args.name}); add them to tests/live/engine.py"
        )


def _labels(inputs: dict[str, Any]) -> dict[str, str]:
    return {label["label"]: str(label["value"]) for label in inputs.get("labels") or []}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def go_duration_ns(text: str) -> int:
    """A Go duration ("10s", "1m30s", "500ms") in nanoseconds, as time.ParseDuration reads it."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a Go duration")
    return int(sum(float(number) * _NANOS[unit] for number, unit in parts))


def _healthcheck(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if not check:
        return None
    return {
        "test": check["tests"],
        "interval": go_duration_ns(check.get("interval", "0s")),
        "timeout": go_duration_ns(check.get("timeout", "0s")),
        "retries": int(check.get("retries", 0)),
        "start_period": go_duration_ns(check.get("startPeriod", "0s")),
    }


def _owner_id(value: str | None, database: Callable[[str], Any], attribute: str) -> int:
    """Numeric ids as given; names resolved in this host's database, as the provider documents."""
    if value in (None, ""):
        return 0
    return int(value) if value.isdigit() else getattr(database(value), attribute)


def _upload_tar(upload: dict[str, Any]) -> bytes:
    """The tar the provider writes for one upload: the file alone, its mode from `permissions`
    (else 0744 when executable, 0644 otherwise), owner and group from `owner`/`group`."""
    if upload.get("contentBase64"):
        content = base64.b64decode(upload["contentBase64"])
    else:
        content = (upload.get("content") or "").encode()
    mode = (
        int(upload["permissions"], 8) if upload.get("permissions") else (0o744 if upload.get("executable") else 0o644)
    )
    info = tarfile.TarInfo(upload["file"].lstrip("/"))
    info.size, info.mode, info.mtime = len(content), mode, int(time.time())
    info.uid = _owner_id(upload.get("owner"), pwd.getpwnam, "pw_uid")
    info.gid = _owner_id(upload.get("group"), grp.getgrnam, "gr_gid")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
