"""The platform's conventions for a container, in one place.

`Service(name, ServiceArgs, platform)` is one container as the platform runs it: named
`<prefix>-<name>`, answering to `<name>` on its networks, with limits, labels, its files
uploaded (secrets readable by the service only) and its data in named volumes that the stack can
protect. Its `Lifecycle` says how it runs, and only a meaningful combination can be written:
- `Server(healthcheck)`: long-running, restarted unless stopped, and `pulumi up` waits until its
  health check (one that works with the tools inside its image) passes;
- `OnDemandJob()`: created with its files but not started; a person or a scheduler runs it
  (`docker start -a <container>`: dbt, Great Expectations);
- `InitJob()`: run to completion during `pulumi up` (below).

Init jobs (`InitJob()`): a container that runs to completion during `pulumi up`
(migrations, first admin user); `pulumi up` fails if it exits non-zero, and a service created
`after=[job]` is created only once the job has succeeded. The job runs again only when it is
replaced (its image, command or files changed, or `pulumi up --replace <its urn>`); it must be
idempotent.

How a job is run, and why a failed one is retried with `--replace` (pulumi-docker 5.2 bridges
kreuzwerker/terraform-provider-docker; file:line below are at tag v4.5.0, the newest in our
mirror; 5.2 adds `upload.owner` on top):
- Container inputs of a job: `attach=true`, `must_run=false`, `restart="no"`, `start` left at its
  default true, no `healthcheck`, no `wait`, no `rm`, `logs` left false.
- The provider's create starts it (internal/provider/resource_docker_container_funcs.go:584),
  waits until it is not running (:631-662, ContainerWait(WaitConditionNotRunning)), ignores the
  exit code and reads the container back, which stores `exit_code` (:815-816). The create
  succeeds whatever the code: the job is in state as created.
- The program turns a non-zero `exit_code` into an error (`require_success`), so that
  `pulumi up` fails and nothing `after` the job is created.
- A plain second `pulumi up` does not run the job again: its inputs did not change, so the engine
  keeps it and hands back the stored `exit_code`, and the program fails again with the same
  message. Failing the create itself would not help: the bridge then saves the partial state as
  an initialization error (pulumi/pulumi-terraform-bridge pkg/tfbridge/provider.go, Create:
  `initializationError`), the engine retries it as an update with no diff
  (pulumi/pulumi#1836), and the bridge's Update returns the old state unchanged when there is no
  diff (provider.go, Update: `if diff == nil { return ... req.GetOlds() }`); the next `up`
  would then report success for a job that never succeeded (pulumi/pulumi#21458 describes this
  no-op). What really runs a job again is a replacement, so the message names the exact command:
  `pulumi up --replace '<urn>'`. A job is `delete_before_replace`: its old container (stopped)
  is removed first (the provider's delete skips the stop of an attached container, :1085), then
  created and run again; its `after` label value ("0") does not change, so nothing that waited
  for it is replaced.

Stopping: the provider stops a container on delete and replace with `destroy_grace_seconds`
(0 when unset: SIGKILL at once, :1085-1091). Every server gets its catalog `stop_grace_seconds`
(more for the stateful ones, so they flush and shut down cleanly) as both `destroy_grace_seconds`
and `stop_timeout` (what `docker stop` and a daemon shutdown use); a job gets Docker's default.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal, TypedDict, Unpack

import pulumi
import pulumi_docker as docker

from components import catalog, privileges
from components.endpoints import Endpoint
from components.platform import Platform
from components.settings import ServiceSettings

SERVICE_TYPE = "datalyptica:platform:Service"

# A name Docker's embedded DNS does not know (a stopped container's) is forwarded to the host's
# resolvers; from an internal network (postgres-ha) that query has no route, and with glibc's
# defaults (5 s x 2 attempts, A and AAAA) a lookup of a dead peer stalled 20 s. Measured on the
# test engine: `getent hosts patroni-9` took 20.0 s, 2.0 s with these options; Patroni's checks
# of a crashed leader by name made failover 30.7 s instead of about 20.
DNS_OPTIONS = ("timeout:1", "attempts:1")
ANY_ADDRESS = "0.0.0.0"  # what a service's own name resolves to inside it (ServiceArgs.listens_by_own_name)


class Timing(TypedDict, total=False):
    """The optional fields of a HealthCheck, as its constructors take them by name."""

    interval: str
    timeout: str
    retries: int
    start_period: str


@dataclass(frozen=True)
class HealthCheck:
    """A Docker health check; build it with the constructor that matches the image's tools."""

    test: tuple[str, ...]
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 6
    start_period: str = "30s"

    @classmethod
    def command(cls, *argv: str, **timing: Unpack[Timing]) -> "HealthCheck":
        return cls(("CMD", *argv), **timing)

    @classmethod
    def shell(cls, script: str, **timing: Unpack[Timing]) -> "HealthCheck":
        return cls(("CMD-SHELL", script), **timing)

    @classmethod
    def curl(cls, url: str, **timing: Unpack[Timing]) -> "HealthCheck":
        return cls.command("curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", url, **timing)

    @classmethod
    def wget(cls, url: str, **timing: Unpack[Timing]) -> "HealthCheck":
        return cls.command("wget", "--quiet", "--spider", url, **timing)

    @classmethod
    def http_via_bash(cls, port: int, path: str, **timing: Unpack[Timing]) -> "HealthCheck":
        """For images with bash but neither curl nor wget: a bare HTTP/1.0 GET over /dev/tcp."""
        script = (
            f"exec 3<>/dev/tcp/127.0.0.1/{port} && "
            f"printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && "
            "head -n 1 <&3 | grep -q ' 200 '"
        )
        return cls.command("bash", "-c", script, **timing)

    def args(self) -> docker.ContainerHealthcheckArgs:
        """Durations as the provider reads them back (see `go_duration`), start_interval at its
        default, so a second `pulumi up` finds nothing to change."""
        return docker.ContainerHealthcheckArgs(
            tests=list(self.test),
            interval=go_duration(self.interval),
            timeout=go_duration(self.timeout),
            retries=self.retries,
            start_period=go_duration(self.start_period),
            start_interval="0s",
        )

    def wait_seconds(self) -> int:
        """How long `pulumi up` waits for healthy: the start period plus every allowed retry."""
        return _seconds(self.start_period) + self.retries * (_seconds(self.interval) + _seconds(self.timeout)) + 30


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _milliseconds(duration: str) -> int:
    """'10s', '2m', '1m30s', '500ms' -> milliseconds."""
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
    parts = _DURATION_PART.findall(duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"{duration!r} is not a duration like 10s, 2m or 1m30s")
    return int(sum(Decimal(number) * units[unit] for number, unit in parts))


def _seconds(duration: str) -> int:
    return _milliseconds(duration) // 1000


def go_duration(duration: str) -> str:
    """A duration as Go's time.Duration.String() writes it: '60s' -> '1m0s', '90s' -> '1m30s'.

    The provider reads health check durations back that way
    (internal/provider/resource_docker_container_funcs.go:961-969, v4.5.0), so any other spelling
    shows as a change on every `pulumi up`. Whole milliseconds only (all a health check needs).
    """
    ms = _milliseconds(duration)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{Decimal(rest) / 1000:f}".rstrip("0").rstrip(".") if rest % 1000 else str(rest // 1000)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def docker_cpus(cpus: float) -> str:
    """A CPU limit as the provider reads it back from the container's NanoCPUs.

    The provider parses `cpus` into NanoCPUs (resource_docker_container_funcs.go:354-360, v4.5.0)
    and reads it back with nanoInt64ToDecimalString (internal/provider/helpers.go:133-150; its test,
    helpers_test.go:34-39, expects 1e9 -> "1.0"); `cpus` forces replacement and has no diff
    suppression (resource_docker_container.go:1158-1163). Sending what it reads back is the only
    way a second `pulumi up` leaves the container alone. This follows that function: nine
    decimals, then "x.0" when exactly nine zeros are left (1 -> "1.0", 0.5 -> "0.5"), else the
    trailing zeros trimmed (1.25 -> "1.25", and, as it does, 10 -> "10.").
    """
    nano = Decimal(repr(float(cpus))) * 1_000_000_000
    if nano != nano.to_integral_value():
        raise ValueError(f"cpus {cpus!r} has more than nine decimals, which Docker cannot take")
    if nano == 0:
        return "0"
    value = nano.to_integral_value() / Decimal(1_000_000_000)
    nine = f"{value:.9f}"
    if nine.count("0") == 9:
        return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):f}"
    return nine.rstrip("0")


@dataclass(frozen=True)
class File:
    """A file the service reads, delivered with the container's uploads; a secret never shows in
    `docker inspect`, and only the service can read it.

    How the service's user comes to read it depends on how the container starts, because of what
    the Docker Engine does with an upload that names an owner (the provider then sets `copyUIDGID`,
    resource_docker_container_funcs.go): when the container has a user (its image's USER, or
    `user=`), Engines before 28.0 look that user up in the *host's* passwd database and chown the
    file to the host's ids, or fail ("getent unable to find entry", moby/moby#34142, fixed by
    moby/moby#34143); only a container with no user gets the owner the upload names. So:
    - the image starts as root and drops to the service's user itself (`drops_privileges`): the
      file is uploaded owned by `owner`, mode 0400;
    - otherwise the file stays root's, mode 0440, and the container's user gets the supplementary
      group 0 (`group_adds`), the arbitrary-uid convention of OpenShift-ready images: nothing but
      root and that group reads it.
    """

    path: str
    content: pulumi.Input[str]
    secret: bool = False
    owner: str | None = None  # the uid the file belongs to (uploads also take a group; none needs one yet)
    executable: bool = False
    # The image's entrypoint rewrites the file in place at start (Flink's conf/config.yaml), so
    # its owner may write it: 0600 for a secret, 0644 otherwise.
    rewritten_at_start: bool = False

    @classmethod
    def tree(cls, source: Path, target: str, skipped: frozenset[str] = frozenset()) -> list["File"]:
        """Every file under the folder `source` as an upload under `target` (a project: dbt's,
        Great Expectations'), so a changed file shows in `pulumi preview`. Hidden files,
        __pycache__ and the folders named in `skipped` (a tool's own output) are left out."""
        left_out = skipped | {"__pycache__"}
        return [
            cls(f"{target}/{path.relative_to(source).as_posix()}", path.read_text())
            for path in sorted(source.rglob("*"))
            if path.is_file() and not path.name.startswith(".") and not left_out & set(path.relative_to(source).parts)
        ]

    @property
    def needs_root_group(self) -> bool:
        """Whether a container that starts as its own user reads this file through group 0."""
        return self.owner not in (None, catalog.ROOT_UID)

    def args(self, *, hand_over: bool) -> docker.ContainerUploadArgs:
        """The upload; `hand_over`: the container starts as root, so the file can be given to `owner`."""
        owner = self.owner if hand_over and self.needs_root_group else None
        if self.rewritten_at_start:
            mode = "0600" if self.secret else "0644"
        else:
            mode = "0400" if self.secret else ("0555" if self.executable else "0444")
        if self.needs_root_group and owner is None:  # read through group 0: the group gets the owner's bits
            mode = mode[:2] + mode[1] + mode[3]
        content = pulumi.Output.secret(self.content) if self.secret else self.content
        return docker.ContainerUploadArgs(
            file=self.path,
            content=content,
            permissions=mode,
            owner=owner,
            executable=self.executable,
        )


@dataclass(frozen=True)
class Port:
    """A container port, published on the host port the stack's `ports.<name>` gives (if any).

    `replica` picks that replica's own host port when the service publishes one per replica.
    """

    name: str
    internal: int
    replica: int = 1


@dataclass(frozen=True)
class Metrics:
    """Where a service serves Prometheus metrics; the monitoring layer scrapes what is declared."""

    port: int
    path: str = "/metrics"
    # A user name sent as HTTP basic auth without a password, for services that want to know
    # who asks but check nothing (Trino without authentication refuses anonymous requests).
    user: str | None = None


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class BindMount:
    """A path of the Docker host seen inside the container, read-only unless said otherwise."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class Server:
    """Long-running: restarted unless stopped; `pulumi up` waits until `healthcheck` passes."""

    healthcheck: HealthCheck


@dataclass(frozen=True)
class OnDemandJob:
    """Created with its files, never started by `pulumi up`: run with `docker start -a <container>`."""


@dataclass(frozen=True)
class InitJob:
    """Run to completion during `pulumi up`; what lists it in `after` waits for its success."""


Lifecycle = Server | OnDemandJob | InitJob


@dataclass(frozen=True)
class ServiceArgs:
    """Everything one container of the platform is made of.

    `volumes`: this service's own named volumes (volume name -> container path);
    `shared_volumes`: container path -> a volume several services mount (platform.volume);
    `host_paths`: host path -> container path, bind-mounted read-write (e.g. the Docker socket);
    `uses`: the endpoints (components/endpoints.py) the service talks to: it joins their networks,
    after `networks`, and waits for their resources;
    `after`: init jobs that must have succeeded before this container is created;
    `tmpfs`: container path -> tmpfs mount options, for what must start empty at every start
    (a restart keeps the container's own files, lock files included);
    `listens_by_own_name`: the server binds the address its own name resolves to and has no
    setting to bind every interface (Spark's master, workers, executors and drivers). On several
    networks that is one network's address, and a peer whose DNS answers with another is refused.
    So inside the container the name resolves to 0.0.0.0 alone (an /etc/hosts entry, and a
    hostname other than the name, whose per-network entries glibc would sort before 0.0.0.0): it
    listens on every network it joins, and advertises the name, which each peer resolves on its own.
    """

    spec: ServiceSettings
    lifecycle: Lifecycle
    networks: Sequence[docker.Network] = ()
    uses: Sequence[Endpoint] = ()
    command: Sequence[pulumi.Input[str]] | None = None
    entrypoint: Sequence[str] | None = None
    env: Mapping[str, pulumi.Input[str]] | None = None
    files: Sequence[File] = ()
    volumes: Mapping[str, str] | None = None
    shared_volumes: Mapping[str, docker.Volume] | None = None
    host_paths: Mapping[str, str] | None = None
    bind_mounts: Sequence[BindMount] = ()
    ports: Sequence[Port] = ()
    user: str | None = None
    metrics: Metrics | None = None
    depends_on: Sequence[pulumi.Input[pulumi.Resource]] = ()
    after: Sequence["Service"] = ()
    shm_size_mb: int | None = None
    tmpfs: Mapping[str, str] | None = None
    ulimits: Sequence[Ulimit] = ()
    cgroupns_mode: Literal["host", "private"] | None = None
    listens_by_own_name: bool = False


@dataclass(frozen=True)
class MetricsTarget:
    """A server that serves Prometheus metrics, as the monitoring layer reaches it."""

    service: str
    layer: str
    host: str  # the name it answers to on its networks
    metrics: Metrics
    networks: tuple[docker.Network, ...]


class Service(pulumi.ComponentResource):
    """One container of the platform, with its volumes and (first time) its image."""

    def __init__(
        self, name: str, args: ServiceArgs, platform: Platform, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SERVICE_TYPE, name, None, opts)
        _check(name, args)
        self.name: str = name
        self.host = name
        self.layer = args.spec.layer
        self.lifecycle: Lifecycle = args.lifecycle
        self.metrics = args.metrics
        self.networks: tuple[docker.Network, ...] = _networks(args, platform)
        self.container: docker.Container = self._container(args, platform)
        if isinstance(args.lifecycle, InitJob):
            container_name = platform.container_name(name)
            self.succeeded = pulumi.Output.all(self.container.urn, self.container.exit_code).apply(
                lambda urn_and_code: require_success(container_name, urn_and_code[1], urn_and_code[0])
            )
        self.register_outputs({"container_name": self.container.name, "host": name})

    def _container(self, args: ServiceArgs, platform: Platform) -> docker.Container:
        spec, lifecycle, name = args.spec, args.lifecycle, self.name
        grace = spec.stop_grace_seconds if isinstance(lifecycle, Server) else catalog.DEFAULT_STOP_GRACE_SECONDS
        hand_over = spec.drops_privileges and args.user is None
        root_group = not hand_over and any(file.needs_root_group for file in args.files)
        run = _run(lifecycle)
        return docker.Container(
            f"{name}-container",
            name=platform.container_name(name),
            hostname=platform.container_name(name) if args.listens_by_own_name else name,
            hosts=[docker.ContainerHostArgs(host=name, ip=ANY_ADDRESS)] if args.listens_by_own_name else None,
            image=platform.image(spec, parent=self),
            command=list(args.command) if args.command is not None else None,
            entrypoints=list(args.entrypoint) if args.entrypoint is not None else None,
            envs=[pulumi.Output.concat(key, "=", value) for key, value in (args.env or {}).items()],
            uploads=[file.args(hand_over=hand_over) for file in args.files],
            group_adds=[catalog.ROOT_UID] if root_group else None,
            volumes=self._volumes(args, platform),
            mounts=[
                docker.ContainerMountArgs(type="bind", source=m.source, target=m.target, read_only=m.read_only)
                for m in args.bind_mounts
            ]
            or None,
            ports=_published(args.ports, platform),
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[name]) for network in self.networks
            ],
            labels=platform.labels(spec.layer, spec.name) + _metrics_labels(args.metrics) + _after_labels(args.after),
            memory=spec.memory_mb,
            memory_swap=spec.memory_mb,
            cpus=docker_cpus(spec.cpus),
            shm_size=args.shm_size_mb,
            tmpfs=dict(args.tmpfs) if args.tmpfs else None,
            ulimits=[docker.ContainerUlimitArgs(name=u.name, soft=u.soft, hard=u.hard) for u in args.ulimits] or None,
            cgroupns_mode=args.cgroupns_mode,
            destroy_grace_seconds=grace,
            stop_timeout=grace,
            user=args.user,
            log_driver="json-file",
            log_opts={"max-size": "50m", "max-file": "3"},
            dns_opts=list(DNS_OPTIONS),
            security_opts=list(privileges.SECURITY_OPTIONS),
            capabilities=docker.ContainerCapabilitiesArgs(drops=list(privileges.DROPPED_CAPABILITIES)),
            restart=run.restart,
            must_run=run.must_run,
            attach=run.attach,
            start=run.start,
            healthcheck=run.healthcheck,
            wait=run.wait,
            wait_timeout=run.wait_timeout,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=platform.docker,
                depends_on=[
                    *args.depends_on,
                    *(resource for endpoint in args.uses for resource in endpoint.resources),
                    *(job.container for job in args.after),
                ],
                delete_before_replace=True,
                # The docker provider neither marks `tmpfs` ForceNew nor applies it in its Update
                # (kreuzwerker/terraform-provider-docker, resource_docker_container.go at 96d331c):
                # a changed tmpfs would be recorded in the state and never reach the container.
                replace_on_changes=["tmpfs"],
                custom_timeouts=pulumi.CustomTimeouts(create="30m") if isinstance(lifecycle, InitJob) else None,
            ),
        )

    def _volumes(self, args: ServiceArgs, platform: Platform) -> list[docker.ContainerVolumeArgs]:
        own = [
            docker.ContainerVolumeArgs(
                volume_name=platform.volume(f"{self.name}-{volume}", parent=self).name, container_path=path
            )
            for volume, path in (args.volumes or {}).items()
        ]
        shared = [
            docker.ContainerVolumeArgs(volume_name=volume.name, container_path=path)
            for path, volume in (args.shared_volumes or {}).items()
        ]
        host = [
            docker.ContainerVolumeArgs(host_path=host, container_path=path)
            for host, path in (args.host_paths or {}).items()
        ]
        return own + shared + host

    @property
    def metrics_target(self) -> MetricsTarget | None:
        """What monitoring scrapes of this service: a server that declares metrics."""
        if self.metrics is None or not isinstance(self.lifecycle, Server):
            return None
        return MetricsTarget(self.name, self.layer, self.host, self.metrics, self.networks)


def _check(name: str, args: ServiceArgs) -> None:
    """What the types cannot say: the catalog and the lifecycle agree, and `after` names init jobs."""
    if args.spec.job != isinstance(args.lifecycle, OnDemandJob):
        kind = "runs on demand (catalog: job=True)" if args.spec.job else "is not an on-demand job in the catalog"
        raise ValueError(f"{name}: {args.spec.name} {kind}; give it the lifecycle that says so")
    if not_jobs := [job.name for job in args.after if not isinstance(job.lifecycle, InitJob)]:
        raise ValueError(f"{name}: `after` names {not_jobs}, which are not init jobs; use depends_on for them")


def _networks(args: ServiceArgs, platform: Platform) -> tuple[docker.Network, ...]:
    """The service's own networks, then those of the endpoints it uses and the shared ones it is a member of."""
    networks = list(args.networks)
    for network in [
        *(n for endpoint in args.uses for n in endpoint.networks),
        *platform.shared_networks_for(args.spec.name),
    ]:
        if network not in networks:
            networks.append(network)
    return tuple(networks)


def _published(ports: Sequence[Port], platform: Platform) -> list[docker.ContainerPortArgs]:
    """The ports the stack publishes, sorted by container port: the provider reads `ports` back in
    that order (resource_docker_container_structures.go:27-58, v4.5.0) and a list in another order
    would replace the container (`ports` forces replacement)."""
    settings = platform.settings
    return [
        docker.ContainerPortArgs(internal=port.internal, external=host_port, ip=settings.bind_address, protocol="tcp")
        for port in sorted(ports, key=lambda port: port.internal)
        if (host_port := settings.host_port(port.name, port.replica)) is not None
    ]


def require_success(container: str, exit_code: int | None, urn: str = "<the job's urn>") -> str:
    """The exit code of an init job that succeeded; fails `pulumi up` for any other outcome.

    The job is in state as it ran, so only replacing it runs it again (see the module docstring).
    """
    if exit_code != 0:
        raise RuntimeError(
            f"the one-shot job {container} exited with {exit_code}, so nothing that waits for it was created. "
            f"Read why with `docker logs {container}`, fix the cause, then run the job again with: "
            f"pulumi up --replace '{urn}' (a plain `pulumi up` does not rerun it and stops here again)"
        )
    return "0"


@dataclass(frozen=True)
class _Run:
    """How the container is run, as the provider's inputs (None: the provider's default)."""

    restart: str
    must_run: bool | None = None
    attach: bool | None = None
    start: bool | None = None
    healthcheck: docker.ContainerHealthcheckArgs | None = None
    wait: bool | None = None
    wait_timeout: int | None = None


def _run(lifecycle: Lifecycle) -> _Run:
    match lifecycle:
        case Server(healthcheck):
            return _Run(
                "unless-stopped",
                healthcheck=healthcheck.args(),
                wait=True,
                wait_timeout=healthcheck.wait_seconds(),
            )
        case OnDemandJob():
            return _Run("no", must_run=False, start=False)
        case InitJob():
            # Started, waited on until it exits (attach), and left stopped: it is not restarted.
            return _Run("no", must_run=False, attach=True)


def _after_labels(jobs: Sequence[Service]) -> list[docker.ContainerLabelArgs]:
    """A label per job this container waits for; its value is known only once the job succeeded,
    so the container cannot be created before (or without) that."""
    return [docker.ContainerLabelArgs(label=f"datalyptica.after.{job.name}", value=job.succeeded) for job in jobs]


def _metrics_labels(metrics: Metrics | None) -> list[docker.ContainerLabelArgs]:
    if metrics is None:
        return []
    return [
        docker.ContainerLabelArgs(label="datalyptica.metrics.port", value=str(metrics.port)),
        docker.ContainerLabelArgs(label="datalyptica.metrics.path", value=metrics.path),
    ]
