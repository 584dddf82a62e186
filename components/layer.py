"""`Layer`: what every layer of the platform has in common, written once.

A layer is a `pulumi.ComponentResource` of type `datalyptica:<layer>:<Class>` named after its
catalog layer, so `pulumi preview` shows layer -> service -> container. The base owns:
- `service(name, args)`: a `Service` that is this layer's child; a server that declares metrics
  becomes one of the layer's `metrics_targets`, which the monitoring layer scrapes;
- `urls`: how a user reaches each port the layer's deployed services publish (catalog.PORT_URLS),
  plus the layer's `extra_urls`;
- `credentials`: the secrets a user logs in with (stack outputs, always secret);
- `watched`: what the layer asks monitoring to put an exporter beside (endpoints.Watched);
- `finish()`: the one `register_outputs`, at the end of the subclass's constructor.
What a layer offers other layers is a typed endpoint (components/endpoints.py), made by the layer.
"""

from collections.abc import Mapping
from typing import ClassVar

import pulumi
import pulumi_docker as docker

from components import catalog
from components.endpoints import Watched
from components.platform import Platform
from components.service import MetricsTarget, Service, ServiceArgs
from components.settings import ServiceSettings, Settings


class Layer(pulumi.ComponentResource):
    layer: ClassVar[str]  # the catalog's name of the layer: its component's name and type token

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.layer not in catalog.LAYER_REQUIRES:
            raise TypeError(
                f"{cls.__name__}.layer {cls.layer!r} is not a layer of the catalog ({', '.join(catalog.LAYERS)})"
            )

    def __init__(self, platform: Platform) -> None:
        super().__init__(f"datalyptica:{self.layer}:{type(self).__name__}", self.layer, None, None)
        self.platform = platform
        self.credentials: dict[str, pulumi.Input[str]] = {}
        self.extra_urls: dict[str, str | None] = {}
        self.metrics_targets: list[MetricsTarget] = []
        self.watched: list[Watched] = []

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    def spec(self, service: str) -> ServiceSettings:
        """The catalog service `service` as this stack runs it."""
        return self.settings.service(service)

    def own_network(self, name: str, *, internal: bool = False) -> docker.Network:
        """A network of this layer, `<prefix>-<name>`."""
        return self.platform.network(name, parent=self, internal=internal)

    def service(self, name: str, args: ServiceArgs, *, parent: pulumi.Resource | None = None) -> Service:
        """A service of this layer (`parent`: a component of the layer's own, else the layer)."""
        service = Service(name, args, self.platform, opts=pulumi.ResourceOptions(parent=parent or self))
        if target := service.metrics_target:
            self.metrics_targets.append(target)
        return service

    @property
    def urls(self) -> dict[str, str | None]:
        """Output name -> URL, None where the stack does not publish the port."""
        urls: dict[str, str | None] = {}
        for service in catalog.services_of(self.layer):
            if not self.settings.deploys(service):
                continue
            for port in catalog.SERVICES[service].ports:
                if shape := catalog.PORT_URLS.get(port):
                    urls[shape.output] = self.platform.url(port, shape.scheme, shape.path)
        return {**urls, **self.extra_urls}

    def finish(self, extra: Mapping[str, pulumi.Input[object]] | None = None) -> None:
        """Registers what the layer exposes: its published URLs, its credentials and `extra`."""
        self.register_outputs(
            {**{name: url for name, url in self.urls.items() if url}, **self.credentials, **(extra or {})}
        )
