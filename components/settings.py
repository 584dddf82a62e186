"""The stack's config (namespace `datalyptica`) as one validated model.

Everything is checked before a single resource is registered. Each error names the key as a
user writes it in `Pulumi.<stack>.yaml`, the value found, and what would be accepted.
"""

import dataclasses
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import catalog

NAMESPACE = "datalyptica"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
# Docker's own bounds on a container's limits (the daemon refuses less: 0.01 CPUs, 6 MB).
MIN_CPUS = 0.01
# CPU limits are ceilings, not reservations: Docker shares the cores among the containers busy at
# once, so a stack's limits may add up to more than its host has (memory's may not: that is an
# OOM kill). How much more is measured: the e2e stack runs every live test, the faults and both
# workflows with limits adding up to 8 times its 2 cores. Past that the settings warn.
MEASURED_CPU_OVERCOMMIT = 8
MIN_MEMORY = 6 * 1024**2
# Images whose tag the program reads a version from, and what it needs to find there.
VERSIONED_TAGS: dict[str, tuple[str, str]] = {
    "trino": (r"\d+", "a numbered Trino release, e.g. trinodb/trino:479 (it names the S3 switch of the catalogs)"),
    "flink-jobmanager": (
        r"\d+\.\d+\.\d+.*",
        "the Flink version first, e.g. flink:2.2.1-scala_2.12-java17 (it names the S3 plugin jar)",
    ),
    "flink-taskmanager": (
        r"\d+\.\d+\.\d+.*",
        "the Flink version first, e.g. flink:2.2.1-scala_2.12-java17 (it names the S3 plugin jar)",
    ),
}
# Where the build steps of images/* may run (docker build --network).
BUILD_NETWORKS = ("default", "host", "none")
# An image reference as Docker takes it: [registry[:port]/]path[:tag][@digest], path components in
# lower case (docker/distribution's reference grammar, reference/regexp.go).
_IMAGE_REFERENCE = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::\d+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
# A host name (RFC 1123 labels) or an IP address, as the platform's URLs name the Docker host.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
# Services that talk to each other as one cluster and must run the same image.
SAME_IMAGE = (
    ("flink-jobmanager", "flink-taskmanager"),
    ("spark-master", "spark-worker"),
    ("spark-master", "spark-connect"),
)


class SettingsError(ValueError):
    """A stack config that cannot be deployed; the message says which key and how to fix it."""


def parse_size(value: str | int) -> int:
    """'512m', '4g', '1.5GiB' or a byte count -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value > 0:
            return value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        number, unit = match.groups()
        size = int(float(number) * _UNITS[unit.lower()])
        if size > 0:
            return size
    raise ValueError(f"{value!r} is not a size; use a positive number with k, m or g, e.g. 512m or 4g")


def format_size(size: int) -> str:
    """Bytes -> '4g', '1.5g', '512m' (rounded to what a person reads)."""
    unit = "g" if size >= _UNITS["g"] else "m"
    return f"{round(size / _UNITS[unit], 2):g}{unit}"


def _not_a_bool(what: str) -> BeforeValidator:
    """YAML's true/false would otherwise count as 1 and 0."""

    def check(value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(f"{str(value).lower()} is not {what}")
        return value

    return BeforeValidator(check)


Cpus = Annotated[float, _not_a_bool("a number of CPUs, e.g. 0.5 or 2")]
Count = Annotated[int, _not_a_bool("a count, e.g. 2")]
PortNumber = Annotated[int, _not_a_bool("a port number (1-65535), or null to not publish it")]
Size = Annotated[str | int, _not_a_bool("a size, e.g. 512m or 4g")]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class ServiceOverride(_Model):
    cpus: Cpus | None = Field(default=None, gt=0)
    memory: Size | None = None
    replicas: Count | None = Field(default=None, ge=0)
    image: str | None = Field(default=None, min_length=1)

    @field_validator("memory")
    @classmethod
    def _memory_is_a_size(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_size(value)
        return value


class HostCapacity(_Model):
    cpus: Cpus = Field(default=16, gt=0)
    memory: Size = "64g"

    @field_validator("memory")
    @classmethod
    def _memory_is_a_size(cls, value: str | int) -> str | int:
        parse_size(value)
        return value

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)


@dataclass(frozen=True)
class ServiceSettings:
    """One service as this stack runs it: defaults from the catalog, overrides from the stack."""

    name: str
    layer: str
    image: str
    cpus: float
    memory_bytes: int
    replicas: int
    job: bool
    drops_privileges: bool = False  # catalog.ServiceDefaults.drops_privileges
    stop_grace_seconds: int = catalog.DEFAULT_STOP_GRACE_SECONDS
    job_size: catalog.JobSize | None = None

    def init_job(self, name: str) -> "ServiceSettings":
        """The settings of an init job `name` that runs this service's image: the catalog's job
        size where it gives one, else the service's own limits."""
        size = self.job_size
        return dataclasses.replace(
            self,
            name=name,
            cpus=size.cpus if size else self.cpus,
            memory_bytes=parse_size(size.memory) if size else self.memory_bytes,
        )

    @property
    def memory_mb(self) -> int:
        return self.memory_bytes // catalog.MiB

    @property
    def built_image(self) -> str | None:
        """The images/<name>/ folder this service's image is built from, if it is one of ours."""
        return self.image.removeprefix("build:") if self.image.startswith("build:") else None


class Settings(_Model):
    layers: list[str] = Field(default_factory=lambda: list(catalog.LAYERS))
    prefix: str = Field(default="datalyptica", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    bind_address: str = "127.0.0.1"
    endpoint_host: str = "localhost"
    protect_data: bool = True
    object_store: str = catalog.OBJECT_STORES.default
    schema_registry: str = catalog.SCHEMA_REGISTRIES.default
    image_version: str = Field(default="1.0.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    # The PostgreSQL major images/patroni builds on (postgres:<major>-bookworm); Patroni 4.1
    # manages 13 to 18. Changing it on a running cluster needs pg_upgrade, not `pulumi up`.
    postgres_major: int = Field(
        default=17,
        ge=13,
        le=18,
        description="PostgreSQL major version the Patroni image builds on (postgres:<major>-bookworm), 13-18; "
        "changing it on a running cluster needs pg_upgrade, not `pulumi up`",
    )
    docker_socket: str = Field(
        default="/var/run/docker.sock",
        description="The Docker host's API socket, mounted into JupyterHub (DockerSpawner) and Alloy "
        "(read-only); e.g. /run/user/1000/docker.sock for rootless Docker",
    )
    image_build_network: str = Field(
        default="default",
        description="The network the build steps of the images under images/ run on: default (the "
        "Docker Engine's bridge), host (for an Engine whose bridge has no route out, e.g. "
        "dockerd --iptables=false) or none",
    )
    host: HostCapacity = Field(default_factory=HostCapacity)
    ports: dict[str, PortNumber | None] = Field(default_factory=dict)
    services: dict[str, ServiceOverride] = Field(default_factory=dict)

    @field_validator("image_build_network")
    @classmethod
    def _a_build_network(cls, network: str) -> str:
        if network not in BUILD_NETWORKS:
            raise ValueError(f"{network!r} is not a network a build can run on; use one of {', '.join(BUILD_NETWORKS)}")
        return network

    @field_validator("docker_socket")
    @classmethod
    def _socket_is_an_absolute_path(cls, path: str) -> str:
        # It is bind-mounted read-write into JupyterHub: a folder (`/`) would hand it the host.
        if not path.startswith("/") or any(c.isspace() or c == ":" for c in path) or not path.endswith(".sock"):
            raise ValueError(
                f"{path!r} is not the path of a socket on the Docker host; give the socket's path, "
                "e.g. /var/run/docker.sock (or /run/user/<uid>/docker.sock for rootless Docker)"
            )
        return path

    @field_validator("bind_address")
    @classmethod
    def _an_ip_address(cls, address: str) -> str:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(
                f"{address!r} is not an IP address of the Docker host; give one, e.g. 127.0.0.1 (this host "
                "only) or the address of one interface (0.0.0.0 publishes on every interface: say so explicitly)"
            ) from None
        return address

    @field_validator("endpoint_host")
    @classmethod
    def _a_host_name(cls, host: str) -> str:
        if not _HOST_NAME.match(host):
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(
                    f"{host!r} is not a host name or IP address; give only the name by which users reach the "
                    "Docker host, without scheme, port or path, e.g. localhost or platform.example.com"
                ) from None
        return host

    @field_validator("layers")
    @classmethod
    def _known_layers(cls, layers: list[str]) -> list[str]:
        unknown = [layer for layer in layers if layer not in catalog.LAYER_REQUIRES]
        if unknown:
            raise ValueError(f"unknown layer {unknown[0]!r}; known layers: {', '.join(catalog.LAYERS)}")
        if len(set(layers)) != len(layers):
            raise ValueError("a layer is listed twice; list each layer once")
        if not layers:
            raise ValueError(
                "no layer: on a deployed stack `pulumi up` would delete every resource; list the layers to run, "
                "or take the stack down with `pulumi destroy`"
            )
        return layers

    @field_validator(*(alternatives.field for alternatives in catalog.ALTERNATIVES))
    @classmethod
    def _known_choice(cls, choice: str, info: ValidationInfo) -> str:
        alternatives = next(a for a in catalog.ALTERNATIVES if a.field == info.field_name)
        if choice not in alternatives.services:
            raise ValueError(f"unknown choice; use one of: {', '.join(alternatives.services)}")
        return choice

    @model_validator(mode="after")
    def _known_services(self) -> "Settings":
        scalable = ", ".join(name for name, d in catalog.SERVICES.items() if d.scalable)
        for name, override in self.services.items():
            if name not in catalog.SERVICES:
                raise ValueError(f"services.{name}: unknown service; known services: {', '.join(catalog.SERVICES)}")
            defaults = catalog.SERVICES[name]
            if override.replicas is not None and not defaults.scalable and override.replicas != defaults.replicas:
                raise ValueError(
                    f"services.{name}.replicas: {name} always runs {defaults.replicas}, got {override.replicas}; "
                    f"replicas can be set only for {scalable}"
                )
        return self

    @model_validator(mode="after")
    def _services_can_run(self) -> "Settings":
        """What the program or Docker would otherwise fail on halfway through `pulumi up`."""
        for name, override in self.services.items():
            key = f"services.{name}"
            if override.replicas == 0:
                raise ValueError(
                    f"{key}.replicas: 0, but {name} must run at least once; set 1 or more, or remove the "
                    f"{catalog.SERVICES[name].layer!r} layer from datalyptica:layers to run none"
                )
            if override.cpus is not None and (override.cpus < MIN_CPUS or (Decimal(repr(override.cpus)) * 10**9) % 1):
                raise ValueError(
                    f"{key}.cpus: {override.cpus:g}; Docker takes {MIN_CPUS} or more, with at most nine decimals"
                )
            if override.memory is not None and parse_size(override.memory) < MIN_MEMORY:
                raise ValueError(f"{key}.memory: {override.memory!r}; Docker takes 6m or more")
        for name in catalog.SERVICES:
            self._cpus_fit_the_host(name)
        for name in catalog.SERVICES:
            self._image_can_run(name)
        for first, second in SAME_IMAGE:
            if self.service(first).image != self.service(second).image:
                raise ValueError(
                    f"services.{second}.image: {self.service(second).image!r}, but {first} runs "
                    f"{self.service(first).image!r}; they form one cluster: give both the same image"
                )
        return self

    def _cpus_fit_the_host(self, name: str) -> None:
        """Docker refuses a container more CPUs than its host has: a stack's own limit, or the
        default of a service it deploys."""
        override = self.services.get(name)
        given = override is not None and override.cpus is not None
        cpus = self.service(name).cpus
        if (given or self.deploys(name)) and cpus > self.host.cpus:
            raise ValueError(
                f"services.{name}.cpus: {cpus:g}{'' if given else ' by default'}, but the host has "
                f"{self.host.cpus:g} (datalyptica:host.cpus) and Docker refuses a container more CPUs than its "
                f"host has; set services.{name}.cpus to {self.host.cpus:g} or less, or raise host.cpus if the "
                "host really has more"
            )

    def _image_can_run(self, name: str) -> None:
        image = self.service(name).image
        key = f"services.{name}.image"
        if image.startswith("build:"):
            folder = image.removeprefix("build:")
            if not (IMAGES_DIR / folder / "Dockerfile").is_file():
                raise ValueError(
                    f"{key}: {image!r}, but images/{folder}/Dockerfile does not exist; "
                    "name a folder of images/ or a pinned image such as name:1.2.3"
                )
            return
        reference = _IMAGE_REFERENCE.match(image)
        if reference is None:
            raise ValueError(
                f"{key}: {image!r} is not an image reference; give [registry/]name:tag in lower case without "
                f"spaces, e.g. {catalog.SERVICES[name].image}"
            )
        tag = reference["digest"] or reference["tag"]  # a digest counts as its own tag
        if tag is None or tag == "latest":
            raise ValueError(
                f"{key}: {image!r} is not pinned ({'untagged' if tag is None else 'latest'}); give a version tag "
                f"such as {catalog.SERVICES[name].image}, so that every `pulumi up` runs the same image"
            )
        if name in VERSIONED_TAGS:
            pattern, what = VERSIONED_TAGS[name]
            if not re.fullmatch(pattern, tag):
                raise ValueError(f"{key}: {image!r}; its tag must be {what}")

    @model_validator(mode="after")
    def _known_ports(self) -> "Settings":
        for name, port in self.ports.items():
            if name not in catalog.ALL_PORT_NAMES:
                raise ValueError(f"ports.{name}: unknown port; known ports: {', '.join(catalog.ALL_PORT_NAMES)}")
            if port is not None and not 1 <= port <= 65535:
                raise ValueError(f"ports.{name}: {port} is not a port; use 1-65535, or null to not publish it")
        return self

    @model_validator(mode="after")
    def _required_ports_are_published(self) -> "Settings":
        for port_name, why in catalog.REQUIRED_PORTS.items():
            owner_name = catalog.port_owner(port_name)
            owner = catalog.SERVICES[owner_name]
            if self.deploys(owner_name) and self.ports.get(port_name, 0) is None:
                raise ValueError(
                    f"ports.{port_name}: null, but {why}; publish it (default "
                    f"{owner.ports[port_name]}), bound to datalyptica:bindAddress"
                )
        return self

    @model_validator(mode="after")
    def _layers_have_what_they_need(self) -> "Settings":
        for layer in self.layers:
            missing = [needed for needed in catalog.LAYER_REQUIRES[layer] if needed not in self.layers]
            if missing:
                raise ValueError(
                    f"layers: {layer!r} needs {', '.join(map(repr, missing))}; add it to datalyptica:layers "
                    f"or remove {layer!r}"
                )
        return self

    @model_validator(mode="after")
    def _one_service_per_host_port(self) -> "Settings":
        claimed: dict[int, str] = {}
        for port_name, port in self.host_ports().items():
            if port > 65535:
                raise ValueError(
                    f"ports: {port_name} would be host port {port}, past 65535; give "
                    f"datalyptica:ports.{port_name.split()[0]} a lower port or run fewer replicas"
                )
            if port in claimed:
                raise ValueError(
                    f"ports: {port_name} and {claimed[port]} both use host port {port}; give one of them "
                    f"another port under datalyptica:ports (or null to not publish it)"
                )
            claimed[port] = port_name
        return self

    # ---- what the layers read -------------------------------------------------------------

    def enabled(self, layer: str) -> bool:
        return layer in self.layers

    def image_build_args(self, folder: str) -> dict[str, str]:
        """The build arguments our image images/<folder>/ takes from this stack."""
        return {"PG_MAJOR": str(self.postgres_major)} if folder == "patroni" else {}

    def deploys(self, service: str) -> bool:
        """Whether this stack runs the catalog service: its layer is enabled and, where services
        are alternatives (catalog.ALTERNATIVES), it is the one the stack chose."""
        for alternatives in catalog.ALTERNATIVES:
            if service in alternatives.services.values() and service != self.chosen(alternatives):
                return False
        return self.enabled(catalog.SERVICES[service].layer)

    def chosen(self, alternatives: catalog.Alternatives) -> str:
        """The service this stack deploys for that job (its objectStore, its schemaRegistry)."""
        return alternatives.services[getattr(self, alternatives.field)]

    def service(self, name: str) -> ServiceSettings:
        defaults = catalog.SERVICES[name]
        override = self.services.get(name, ServiceOverride())
        return ServiceSettings(
            name=name,
            layer=defaults.layer,
            image=override.image or defaults.image,
            cpus=override.cpus if override.cpus is not None else defaults.cpus,
            memory_bytes=parse_size(override.memory if override.memory is not None else defaults.memory),
            replicas=override.replicas if override.replicas is not None else defaults.replicas,
            job=defaults.job,
            drops_privileges=defaults.drops_privileges,
            stop_grace_seconds=defaults.stop_grace_seconds,
            job_size=defaults.job_size,
        )

    def deployed_services(self) -> list[ServiceSettings]:
        return [self.service(name) for name in catalog.SERVICES if self.deploys(name)]

    def host_port(self, port_name: str, replica: int = 1) -> int | None:
        """The host port `port_name` is published on, or None when the stack does not publish it.

        For a service whose replicas each publish their own ports (`ports_per_replica`), replica
        i gets the configured port + i - 1.
        """
        owner = catalog.SERVICES[catalog.port_owner(port_name)]
        if replica != 1 and not owner.ports_per_replica:
            raise ValueError(f"host port {port_name} is published once, not per replica")
        first = self.ports[port_name] if port_name in self.ports else owner.ports[port_name]
        return None if first is None else first + replica - 1

    def host_ports(self) -> dict[str, int]:
        """Every published host port of the enabled layers, by port name ('kafka (replica 2)' for
        the ports of further replicas)."""
        published = {}
        for service in self.deployed_services():
            defaults = catalog.SERVICES[service.name]
            replicas = service.replicas if defaults.ports_per_replica else 1
            for port_name in defaults.ports:
                for replica in range(1, replicas + 1):
                    if (port := self.host_port(port_name, replica)) is not None:
                        published[port_name if replica == 1 else f"{port_name} (replica {replica})"] = port
        return published

    def memory_demand(self) -> dict[str, int]:
        """Memory limits of every container that may run at once, by service.

        Replicas count (notebooks at their most), and so do jobs: a job runs while everything
        else does, so the host must have room for it too.
        """
        return {s.name: s.memory_bytes * s.replicas for s in self.deployed_services()}

    def cpu_demand(self) -> dict[str, float]:
        return {s.name: s.cpus * s.replicas for s in self.deployed_services()}

    def capacity_warnings(self) -> list[str]:
        demand = self.cpu_demand()
        cpus = sum(demand.values())
        if cpus <= self.host.cpus * MEASURED_CPU_OVERCOMMIT:
            return []
        largest = ", ".join(
            _consumer(self.service(name), "cpus", lambda cpus: f"{cpus:g}") for name in _largest(demand)
        )
        return [
            f"{NAMESPACE}:host.cpus: CPU limits add up to {cpus:g} on a host of {self.host.cpus:g}, more than "
            f"{MEASURED_CPU_OVERCOMMIT} times its cores, the most the platform is tested at; services will compete "
            f"for CPU under load; largest: {largest}. To stop this warning lower those, or raise "
            f"{NAMESPACE}:host.cpus to at least {cpus / MEASURED_CPU_OVERCOMMIT:g}"
        ]

    @model_validator(mode="after")
    def _fits_the_host(self) -> "Settings":
        demand = self.memory_demand()
        total = sum(demand.values())
        if total > self.host.memory_bytes:
            largest = ", ".join(_consumer(self.service(name), "memory", format_size) for name in _largest(demand))
            raise ValueError(
                f"host.memory: memory limits add up to {format_size(total)} but the host has "
                f"{format_size(self.host.memory_bytes)}, {format_size(total - self.host.memory_bytes)} too much; "
                f"largest: {largest}. To fit, lower those under {NAMESPACE}:services, remove a layer from "
                f"{NAMESPACE}:layers, or raise {NAMESPACE}:host.memory to at least {format_size(total)}"
            )
        return self


def _largest(demand: Mapping[str, float], count: int = 5) -> list[str]:
    return [name for name, _ in sorted(demand.items(), key=lambda item: -item[1])[:count]]


def _consumer(service: ServiceSettings, limit: str, show: Callable[[Any], str]) -> str:
    """`datalyptica:services.<name>.<key> (share)`: the key that shrinks the service's share.

    That is `replicas` when the service runs several and the stack may change how many.
    """
    each = show(service.memory_bytes if limit == "memory" else service.cpus)
    if service.replicas == 1:
        return f"{NAMESPACE}:services.{service.name}.{limit} ({each})"
    key = "replicas" if catalog.SERVICES[service.name].scalable else limit
    total = show((service.memory_bytes if limit == "memory" else service.cpus) * service.replicas)
    return f"{NAMESPACE}:services.{service.name}.{key} ({service.replicas} x {each} = {total})"


def stack_config() -> dict[str, Any]:
    """Every config value the engine handed this run, by `namespace:key`.

    The one place the program reads config other than through pulumi.Config, which reads one known
    key at a time and cannot list them; listing them all is what lets an unknown (mistyped) key be
    refused instead of silently ignored. Python's language host hands the whole config to the
    program as JSON in PULUMI_CONFIG (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go,
    Run), and `pulumi.runtime.get_config_env` (exported by pulumi.runtime) reads exactly that.
    """
    import pulumi.runtime

    return pulumi.runtime.get_config_env()


def config_from_engine(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The `datalyptica:*` keys of the config the engine hands over, with structured values decoded.

    The engine passes every value as a string; lists and maps arrive as JSON.
    """
    config = {}
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        try:
            config[name] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            config[name] = value
    return config


def _describe(detail: Mapping[str, Any]) -> str:
    """One pydantic error as a line that starts with the key a user writes in the stack file."""
    message = detail["msg"].removeprefix("Value error, ")
    location = ".".join(str(part) for part in detail["loc"])
    if not location:  # a check across keys: its message starts with the key it is about
        return f"{NAMESPACE}:{message}"
    if detail["type"] == "extra_forbidden":
        message = "unknown key"
        if len(detail["loc"]) == 1:
            known = (field.alias or name for name, field in Settings.model_fields.items())
            message += "; known keys: " + ", ".join(known)
    return f"{NAMESPACE}:{location}: {message} (got {detail.get('input')!r})"


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Validate a stack's `datalyptica:*` config (already decoded) into Settings."""
    try:
        return Settings.model_validate(dict(config))
    except ValidationError as error:
        problems = "\n  ".join(_describe(detail) for detail in error.errors())
        raise SettingsError(f"invalid stack config:\n  {problems}") from None
