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
replaced (its image, command or files changed); it must be idempotent.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components import catalog
from components.settings import ServiceSettings, Settings

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
SERVICE_TYPE = "datalyptica:platform:Service"


@dataclass(frozen=True)
class HealthCheck:
    """A Docker health check; build it with the constructor that matches the image's tools."""

    test: tuple[str, ...]
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 6
    start_period: str = "30s"

    @classmethod
    def command(cls, *argv: str, **timing: str | int) -> "HealthCheck":
        return cls(("CMD", *argv), **timing)

    @classmethod
    def shell(cls, script: str, **timing: str | int) -> "HealthCheck":
        return cls(("CMD-SHELL", script), **timing)

    @classmethod
    def curl(cls, url: str, **timing: str | int) -> "HealthCheck":
        return cls.command("curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", url, **timing)

    @classmethod
    def wget(cls, url: str, **timing: str | int) -> "HealthCheck":
        return cls.command("wget", "--quiet", "--spider", url, **timing)

    @classmethod
    def http_via_bash(cls, port: int, path: str, **timing: str | int) -> "HealthCheck":
        """For images with bash but neither curl nor wget: a bare HTTP/1.0 GET over /dev/tcp."""
        script = (
            f"exec 3<>/dev/tcp/127.0.0.1/{port} && "
            f"printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && "
            "head -n 1 <&3 | grep -q ' 200 '"
        )
        return cls.command("bash", "-c", script, **timing)

    def args(self) -> docker.ContainerHealthcheckArgs:
        return docker.ContainerHealthcheckArgs(
            tests=list(self.test), interval=self.interval, timeout=self.timeout,
            retries=self.retries, start_period=self.start_period,
        )

    def wait_seconds(self) -> int:
        """How long `pulumi up` waits for healthy: the start period plus every allowed retry."""
        return _seconds(self.start_period) + self.retries * (_seconds(self.interval) + _seconds(self.timeout)) + 30


def _seconds(duration: str) -> int:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if duration.endswith(suffix):
            return int(float(duration[: -len(suffix)]) * units[suffix])
    raise ValueError(f"{duration!r} is not a duration like 10s or 2m")


@dataclass(frozen=True)
class File:
    """A file the service reads, delivered with the container's uploads.

    A secret file is written mode 0400 and owned by the user the service runs as, so only the
    service can read it and the value never shows in `docker inspect`.
    """

    path: str
    content: pulumi.Input[str]
    secret: bool = False
    owner: str | None = None  # uid (or uid:gid is not supported by Docker uploads: uid only)
    executable: bool = False
    # The image's entrypoint rewrites the file in place at start (Flink's conf/config.yaml), so
    # its owner may write it: 0600 for a secret, 0644 otherwise.
    rewritten_at_start: bool = False

    def args(self) -> docker.ContainerUploadArgs:
        if self.rewritten_at_start:
            mode = "0600" if self.secret else "0644"
        else:
            mode = "0400" if self.secret else ("0555" if self.executable else "0444")
        content = pulumi.Output.secret(self.content) if self.secret else self.content
        return docker.ContainerUploadArgs(
            file=self.path, content=content, permissions=mode, owner=self.owner, executable=self.executable,
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


class Platform:
    """What all layers share. One per program run."""

    def __init__(self, settings: Settings):
        self.settings = settings
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
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def shared_networks_for(self, service: str) -> list[docker.Network]:
        """The shared networks the catalog service `service` joins in this stack."""
        return [
            self.shared_network(name) for name, shared in catalog.SHARED_NETWORKS.items()
            if service in shared.members and self.settings.enabled(shared.layer)
        ]

    def shared_network(self, name: str) -> docker.Network:
        """The shared network `<prefix>-<name>` (catalog.SHARED_NETWORKS), created on first use."""
        if not self.settings.enabled(catalog.SHARED_NETWORKS[name].layer):
            raise ValueError(f"the {name} network belongs to the {catalog.SHARED_NETWORKS[name].layer} layer, "
                             "which this stack does not enable")
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
            opts=pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect),
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
                    f"{service.name}-image", name=service.image, keep_locally=True,
                    opts=pulumi.ResourceOptions(parent=parent),
                )
                self._images[service.image] = pulled.image_id
        return self._images[service.image]

    def built_image_name(self, folder: str) -> str:
        return f"{catalog.BUILT_IMAGE_REGISTRY}/{folder}:{self.settings.image_version}"

    def _build(self, folder: str, *, parent: pulumi.Resource) -> pulumi.Output[str]:
        context = IMAGES_DIR / folder
        if not (context / "Dockerfile").is_file():
            raise FileNotFoundError(f"images/{folder}/Dockerfile is missing: the {folder} image cannot be built")
        image = docker.Image(
            f"{folder}-image",
            image_name=self.built_image_name(folder),
            build=docker.DockerBuildArgs(context=str(context), dockerfile=str(context / "Dockerfile"),
                                         args=self.settings.image_build_args(folder) or None),
            skip_push=True,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        # repo_digest is the local image id when the image is not pushed: a rebuild replaces the containers.
        return image.repo_digest


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
        depends_on: Sequence[pulumi.Resource] = (),
        run_once: bool = False,
        after: Sequence["Service"] = (),
        opts: pulumi.ResourceOptions | None = None,
        **container_args,
    ):
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
        self.run_once = run_once
        settings = platform.settings

        mounts = [
            docker.ContainerVolumeArgs(volume_name=platform.volume(f"{name}-{volume}", parent=self).name, container_path=path)
            for volume, path in (volumes or {}).items()
        ]
        mounts += [
            docker.ContainerVolumeArgs(volume_name=volume.name, container_path=path)
            for path, volume in (shared_volumes or {}).items()
        ]
        mounts += [
            docker.ContainerVolumeArgs(host_path=host, container_path=path)
            for host, path in (host_paths or {}).items()
        ]
        networks = list(networks)
        networks += [n for n in platform.shared_networks_for(spec.name) if n not in networks]
        published = [
            docker.ContainerPortArgs(internal=port.internal, external=host_port, ip=settings.bind_address)
            for port in ports
            if (host_port := settings.host_port(port.name, port.replica)) is not None
        ]
        self.container = docker.Container(
            f"{name}-container",
            name=platform.container_name(name),
            hostname=name,
            image=platform.image(spec, parent=self),
            command=list(command) if command is not None else None,
            entrypoints=list(entrypoint) if entrypoint is not None else None,
            envs=[pulumi.Output.concat(key, "=", value) for key, value in (env or {}).items()],
            uploads=[file.args() for file in files],
            volumes=mounts,
            ports=published,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[name]) for network in networks
            ],
            labels=platform.labels(spec.layer, spec.name) + _metrics_labels(metrics) + _after_labels(after),
            memory=spec.memory_mb,
            memory_swap=spec.memory_mb,
            cpus=f"{spec.cpus:g}",
            user=user,
            log_driver="json-file",
            log_opts={"max-size": "50m", "max-file": "3"},
            **(_run_to_completion() if run_once else _lifecycle(spec, healthcheck)),
            **container_args,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*depends_on, *(job.container for job in after)], delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="30m") if run_once else None,
            ),
        )
        if run_once:
            container_name = platform.container_name(name)
            self.succeeded = self.container.exit_code.apply(lambda code: require_success(container_name, code))
        else:
            platform.deployed.append(
                DeployedService(name, spec.layer, name, metrics, tuple(networks), self.container)
            )
        self.register_outputs({"container_name": self.container.name, "host": name})


def require_success(container: str, exit_code: int | None) -> str:
    """The exit code of a one-shot job that succeeded; fails `pulumi up` for any other outcome."""
    if exit_code != 0:
        raise RuntimeError(
            f"{container} exited with {exit_code}; read `docker logs {container}`, fix the cause and run `pulumi up` again"
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
