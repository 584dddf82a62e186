"""The platform's conventions for a container, in one place.

`Platform` holds what every layer shares: the validated settings, images, networks, volumes
and the list of services deployed so far. `Service` is one container as the platform runs
it: named `<prefix>-<name>`, answering to `<name>` on its networks, with a health check that
works with the tools inside its image, limits, labels, a restart policy, its files uploaded
(secrets mode 0400) and its data in named volumes that the stack can protect.

Shared networks (catalog.SHARED_NETWORKS): a service joins, besides the networks its layer
gives it, every shared network whose members name it (by catalog service name) while the layer
that needs the network is enabled. The spawned notebooks' network is one: storage's HAProxy,
MinIO and Nessie join it without the storage layer knowing about notebooks. The network is
created once per program, at the stack's top level, by whichever service asks first.

One-shot services (`run_once=True`): a container that runs to completion during `pulumi up`
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
(0 when unset: SIGKILL at once, :1085-1091). Every service gets `STOP_GRACE_SECONDS` (more for
the stateful ones, so they flush and shut down cleanly) as both `destroy_grace_seconds` and
`stop_timeout` (what `docker stop` and a daemon shutdown use).
"""

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypedDict, Unpack

import pulumi
import pulumi_docker as docker

from components import catalog
from components.settings import ServiceSettings, Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
IMAGES_DIR = PROJECT_DIR / "images"
SERVICE_TYPE = "datalyptica:platform:Service"
# Images are built for this platform whatever the machine that runs `pulumi up` is: the
# platform is an input of the image build, so the host's own would rebuild them from another machine.
IMAGE_PLATFORM = "linux/amd64"

# Seconds a container gets between SIGTERM and SIGKILL when it is stopped, replaced or destroyed.
# Stateful services get enough to flush and close cleanly: PostgreSQL's fast shutdown ends with a
# checkpoint, Kafka's controlled shutdown moves partition leadership, etcd and ClickHouse sync their
# logs, Redis writes its snapshot, Prometheus and Loki flush their heads to disk.
# A name Docker's embedded DNS does not know (a stopped container's) is forwarded to the host's
# resolvers; from an internal network (postgres-ha) that query has no route, and with glibc's
# defaults (5 s x 2 attempts, A and AAAA) a lookup of a dead peer stalled 20 s. Measured on the
# test engine: `getent hosts patroni-9` took 20.0 s, 2.0 s with these options; Patroni's checks
# of a crashed leader by name made failover 30.7 s instead of about 20.
DNS_OPTIONS = ("timeout:1", "attempts:1")
DEFAULT_STOP_GRACE_SECONDS = 10  # Docker's own default for `docker stop`
STOP_GRACE_SECONDS: dict[str, int] = {
    # `weed server` waits 10 s after SIGTERM before it exits (seaweedfs).
    "patroni": 120,
    "etcd": 30,
    "minio": 30,
    "seaweedfs": 30,
    "kafka": 120,
    "kafka-connect": 60,
    "clickhouse": 60,
    "redis": 60,
    "prometheus": 60,
    "loki": 60,
    "alertmanager": 30,
    "grafana": 30,
    "nessie": 30,
    "keycloak": 30,
    "trino": 60,
    "spark-master": 30,
    "spark-worker": 30,
    "flink-jobmanager": 60,
    "flink-taskmanager": 60,
    "airflow-scheduler": 60,
    "airflow-worker": 120,
    "airflow-triggerer": 30,
    "airflow-dag-processor": 30,
    "jupyterhub": 30,
    "schema-registry": 30,
    "haproxy": 15,
}


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


ROOT_UID = "0"


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

    @property
    def needs_root_group(self) -> bool:
        """Whether a container that starts as its own user reads this file through group 0."""
        return self.owner not in (None, ROOT_UID)

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
class DeployedService:
    """What the rest of the platform may know about a deployed service (for monitoring, plans)."""

    name: str
    layer: str
    host: str  # the name it answers to on its networks
    metrics: Metrics | None
    networks: tuple[docker.Network, ...]
    container: docker.Container


def docker_provider() -> docker.Provider:
    """The stack's one Docker provider, passed explicitly to every Docker resource (shared networks
    and images too, which have no layer to inherit one from).

    An explicit provider does not read the `docker:*` stack config as the default one does (its SDK
    falls back to DOCKER_HOST only), so the keys that say where the Docker host is are handed over:
    `docker:host` (else DOCKER_HOST), `docker:context`, `docker:certPath`.
    """
    # pulumi_docker's config stub names the key (certPath); the module's attribute is cert_path.
    cert_path = docker.config.cert_path  # type: ignore[attr-defined]
    return docker.Provider("docker", host=docker.config.host, context=docker.config.context, cert_path=cert_path)


class Platform:
    """What all layers share. One per program run."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.docker = docker_provider()
        self.deployed: list[DeployedService] = []
        self._images: dict[str, pulumi.Output[str]] = {}
        self._shared_networks: dict[str, docker.Network] = {}

    def container_name(self, name: str) -> str:
        return f"{self.settings.prefix}-{name}"

    def url(self, port_name: str, scheme: str = "http", path: str = "") -> str | None:
        """How a user reaches a published port, or None when the stack does not publish it."""
        port = self.settings.host_port(port_name)
        return f"{scheme}://{self.settings.endpoint_host}:{port}{path}" if port is not None else None

    def labels(self, layer: str, service: str) -> list[docker.ContainerLabelArgs]:
        return [
            docker.ContainerLabelArgs(label="datalyptica.layer", value=layer),
            docker.ContainerLabelArgs(label="datalyptica.service", value=service),
            docker.ContainerLabelArgs(label="datalyptica.stack", value=pulumi.get_stack()),
        ]

    def network(self, name: str, *, parent: pulumi.Resource | None, internal: bool = False) -> docker.Network:
        """A bridge network `<prefix>-<name>`; internal ones have no route out of the host."""
        return docker.Network(
            f"{name}-network",
            name=self.container_name(name),
            internal=internal,
            labels=[docker.NetworkLabelArgs(label="datalyptica.network", value=name)],
            opts=pulumi.ResourceOptions(parent=parent, provider=self.docker),
        )

    def shared_networks_for(self, service: str) -> list[docker.Network]:
        """The shared networks the catalog service `service` joins in this stack."""
        return [
            self.shared_network(name)
            for name, shared in catalog.SHARED_NETWORKS.items()
            if service in shared.members and self.settings.enabled(shared.layer)
        ]

    def shared_network(self, name: str) -> docker.Network:
        """The shared network `<prefix>-<name>` (catalog.SHARED_NETWORKS), created on first use."""
        if not self.settings.enabled(catalog.SHARED_NETWORKS[name].layer):
            raise ValueError(
                f"the {name} network belongs to the {catalog.SHARED_NETWORKS[name].layer} layer, "
                "which this stack does not enable"
            )
        if name not in self._shared_networks:
            self._shared_networks[name] = self.network(name, parent=None)
        return self._shared_networks[name]

    def volume(self, name: str, *, parent: pulumi.Resource) -> docker.Volume:
        """A named volume `<prefix>-<name>`, protected from deletion when the stack says so."""
        protect = self.settings.protect_data
        return docker.Volume(
            f"{name}-volume",
            name=self.container_name(name),
            labels=[docker.VolumeLabelArgs(label="datalyptica.volume", value=name)],
            opts=pulumi.ResourceOptions(parent=parent, provider=self.docker, protect=protect, retain_on_delete=protect),
        )

    def image(self, service: ServiceSettings, *, parent: pulumi.Resource) -> pulumi.Output[str]:
        """The image a service runs, by image id: pulled and pinned by tag, or built from images/.

        Each image is pulled or built once, however many services run it.
        """
        if service.image not in self._images:
            if folder := service.built_image:
                self._images[service.image] = self._build(folder, parent=parent)
            else:
                pulled = docker.RemoteImage(
                    f"{service.name}-image",
                    name=service.image,
                    keep_locally=True,
                    opts=pulumi.ResourceOptions(parent=parent, provider=self.docker),
                )
                self._images[service.image] = pulled.image_id
        return self._images[service.image]

    def built_image_name(self, folder: str) -> str:
        return f"{catalog.BUILT_IMAGE_REGISTRY}/{folder}:{self.settings.image_version}"

    def _build(self, folder: str, *, parent: pulumi.Resource) -> pulumi.Output[str]:
        """Build images/<folder> on the Docker host, tagged with its platform name.

        A `RemoteImage` with a build block, built by the Docker Engine's own (legacy) builder: it
        runs on the provider's Docker host, where the containers run. (pulumi-docker's native
        `Image` is not served by the bridged provider, and the bridged buildx path dials the local
        /var/run/docker.sock whatever the provider's `host` says.) The provider rebuilds only when
        an input changes, so `triggers` carries a hash of the build context's files.
        """
        context = IMAGES_DIR / folder
        if not (context / "Dockerfile").is_file():
            raise FileNotFoundError(f"images/{folder}/Dockerfile is missing: the {folder} image cannot be built")
        # Context and Dockerfile relative to the project (the program and the provider run from its
        # directory), and a fixed platform: all three are inputs, so absolute paths or the host's
        # platform would rebuild the image (and replace its containers) whenever the checkout or
        # machine changes.
        relative = context.relative_to(PROJECT_DIR)
        build_args = self.settings.image_build_args(folder)
        image = docker.RemoteImage(
            f"{folder}-image",
            name=self.built_image_name(folder),
            build=docker.RemoteImageBuildArgs(
                context=relative.as_posix(),
                dockerfile="Dockerfile",
                platform=IMAGE_PLATFORM,
                build_args=build_args or None,
                network_mode=self.settings.image_build_network,
                use_legacy_builder=True,
            ),
            triggers={"context": context_hash(context)},
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=parent, provider=self.docker),
        )
        # The local image id: a rebuild (a changed context or build argument) replaces the containers.
        return image.image_id


def context_hash(folder: Path) -> str:
    """SHA-256 over a build context's files (relative paths, modes and contents), in a fixed order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(b"x" if os.access(path, os.X_OK) else b"-")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class Service(pulumi.ComponentResource):
    """One container of the platform, with its volumes and (first time) its image."""

    def __init__(
        self,
        name: str,
        *,
        platform: Platform,
        spec: ServiceSettings,
        networks: Sequence[docker.Network],
        healthcheck: HealthCheck | None,
        command: Sequence[pulumi.Input[str]] | None = None,
        entrypoint: Sequence[str] | None = None,
        env: Mapping[str, pulumi.Input[str]] | None = None,
        files: Sequence[File] = (),
        volumes: Mapping[str, str] | None = None,
        shared_volumes: Mapping[str, docker.Volume] | None = None,
        host_paths: Mapping[str, str] | None = None,
        ports: Sequence[Port] = (),
        user: str | None = None,
        metrics: Metrics | None = None,
        depends_on: Sequence[pulumi.Input[pulumi.Resource]] = (),
        run_once: bool = False,
        after: Sequence["Service"] = (),
        opts: pulumi.ResourceOptions | None = None,
        **container_args: Any,
    ) -> None:
        """`volumes`: this service's own named volumes (volume name -> container path);
        `shared_volumes`: container path -> a volume several services mount (platform.volume);
        `host_paths`: host path -> container path, bind-mounted (e.g. the Docker socket);
        `run_once`: a one-shot job run to completion (see the module's docstring);
        `after`: one-shot jobs that must have succeeded before this container is created.
        """
        super().__init__(SERVICE_TYPE, name, None, opts)
        if run_once:
            if healthcheck is not None:
                raise ValueError(f"{name}: a one-shot job runs to completion; it has no health check")
            spec = dataclasses.replace(spec, job=True)
        elif healthcheck is None and not spec.job:
            raise ValueError(f"{name}: a long-running service needs a health check that works inside its image")
        if any(not job.run_once for job in after):
            raise ValueError(f"{name}: `after` names services that run once; use depends_on for the others")
        self.name = name
        self.host = name
        self.run_once: bool = run_once
        settings = platform.settings

        mounts = [
            docker.ContainerVolumeArgs(
                volume_name=platform.volume(f"{name}-{volume}", parent=self).name, container_path=path
            )
            for volume, path in (volumes or {}).items()
        ]
        mounts += [
            docker.ContainerVolumeArgs(volume_name=volume.name, container_path=path)
            for path, volume in (shared_volumes or {}).items()
        ]
        mounts += [
            docker.ContainerVolumeArgs(host_path=host, container_path=path) for host, path in (host_paths or {}).items()
        ]
        networks = list(networks)
        networks += [n for n in platform.shared_networks_for(spec.name) if n not in networks]
        # Sorted by container port: the provider reads `ports` back in that order
        # (resource_docker_container_structures.go:27-58, v4.5.0) and a list in another order would
        # replace the container (`ports` forces replacement).
        published = [
            docker.ContainerPortArgs(
                internal=port.internal, external=host_port, ip=settings.bind_address, protocol="tcp"
            )
            for port in sorted(ports, key=lambda port: port.internal)
            if (host_port := settings.host_port(port.name, port.replica)) is not None
        ]
        grace = STOP_GRACE_SECONDS.get(spec.name, DEFAULT_STOP_GRACE_SECONDS)
        hand_over = spec.drops_privileges and user is None
        root_group = not hand_over and any(file.needs_root_group for file in files)
        self.container: docker.Container = docker.Container(
            f"{name}-container",
            name=platform.container_name(name),
            hostname=name,
            image=platform.image(spec, parent=self),
            command=list(command) if command is not None else None,
            entrypoints=list(entrypoint) if entrypoint is not None else None,
            envs=[pulumi.Output.concat(key, "=", value) for key, value in (env or {}).items()],
            uploads=[file.args(hand_over=hand_over) for file in files],
            group_adds=[ROOT_UID] if root_group else None,
            volumes=mounts,
            ports=published,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[name]) for network in networks
            ],
            labels=platform.labels(spec.layer, spec.name) + _metrics_labels(metrics) + _after_labels(after),
            memory=spec.memory_mb,
            memory_swap=spec.memory_mb,
            cpus=docker_cpus(spec.cpus),
            destroy_grace_seconds=grace,
            stop_timeout=grace,
            user=user,
            log_driver="json-file",
            log_opts={"max-size": "50m", "max-file": "3"},
            dns_opts=list(DNS_OPTIONS),
            **(_run_to_completion() if run_once else _lifecycle(spec, healthcheck)),
            **container_args,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=platform.docker,
                depends_on=[*depends_on, *(job.container for job in after)],
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="30m") if run_once else None,
            ),
        )
        if run_once:
            container_name = platform.container_name(name)
            self.succeeded = pulumi.Output.all(self.container.urn, self.container.exit_code).apply(
                lambda urn_and_code: require_success(container_name, urn_and_code[1], urn_and_code[0])
            )
        else:
            platform.deployed.append(DeployedService(name, spec.layer, name, metrics, tuple(networks), self.container))
        self.register_outputs({"container_name": self.container.name, "host": name})


def require_success(container: str, exit_code: int | None, urn: str = "<the job's urn>") -> str:
    """The exit code of a one-shot job that succeeded; fails `pulumi up` for any other outcome.

    The job is in state as it ran, so only replacing it runs it again (see the module docstring).
    """
    if exit_code != 0:
        raise RuntimeError(
            f"the one-shot job {container} exited with {exit_code}, so nothing that waits for it was created. "
            f"Read why with `docker logs {container}`, fix the cause, then run the job again with: "
            f"pulumi up --replace '{urn}' (a plain `pulumi up` does not rerun it and stops here again)"
        )
    return "0"


def _run_to_completion() -> dict:
    """Started, waited on until it exits (attach), and left stopped: it is not restarted."""
    return {"restart": "no", "must_run": False, "attach": True}


def _after_labels(jobs: Sequence["Service"]) -> list[docker.ContainerLabelArgs]:
    """A label per job this container waits for; its value is known only once the job succeeded,
    so the container cannot be created before (or without) that."""
    return [docker.ContainerLabelArgs(label=f"datalyptica.after.{job.name}", value=job.succeeded) for job in jobs]


def _lifecycle(spec: ServiceSettings, healthcheck: HealthCheck | None) -> dict:
    """Long-running services restart and are waited on until healthy; jobs are created, not started."""
    if spec.job:
        return {"restart": "no", "must_run": False, "start": False}
    assert healthcheck is not None
    return {
        "restart": "unless-stopped",
        "healthcheck": healthcheck.args(),
        "wait": True,
        "wait_timeout": healthcheck.wait_seconds(),
    }


def _metrics_labels(metrics: Metrics | None) -> list[docker.ContainerLabelArgs]:
    if metrics is None:
        return []
    return [
        docker.ContainerLabelArgs(label="datalyptica.metrics.port", value=str(metrics.port)),
        docker.ContainerLabelArgs(label="datalyptica.metrics.path", value=metrics.path),
    ]
