"""What every layer shares: the validated settings, the one Docker provider, images, networks and
volumes. One `Platform` per program run; services (components/service.py) and layers
(components/layer.py) are built on it.

Shared networks (catalog.SHARED_NETWORKS): a service joins, besides the networks its layer
gives it, every shared network whose members name it (by catalog service name) while the layer
that needs the network is enabled. The spawned notebooks' network is one: storage's HAProxy,
MinIO and Nessie join it without the storage layer knowing about notebooks. The network is
created once per program, at the stack's top level, by whichever service asks first.
"""

import hashlib
import os
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components import catalog
from components.settings import ServiceSettings, Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
IMAGES_DIR = PROJECT_DIR / "images"
# Images are built for this platform whatever the machine that runs `pulumi up` is: the
# platform is an input of the image build, so the host's own would rebuild them from another machine.
IMAGE_PLATFORM = "linux/amd64"


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
