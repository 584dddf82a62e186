"""The layer graph in one place: the order `pulumi up` builds the layers in, and what each one
takes from those built before it.

Which layer requires which (catalog.LAYER_REQUIRES, checked by the settings before anything is
registered) and which it uses when enabled (catalog.LAYER_USES) is the catalog's; `BUILD_ORDER`
lists the steps, and `Built` hands a step only the layers the catalog says it may take, so a
step that reaches for anything else, or for a layer not built yet, fails at once.

Two steps are not one layer each:
- single sign-on's clients (`SsoClients`) come before everything, so each UI is configured with
  its own client;
- storage is built in two steps around the security layer: PostgreSQL HA first (Keycloak keeps
  its realm there), then the object store and Nessie (MinIO reads Keycloak's discovery document
  when it starts).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from components import catalog
from components.analytics import SSO_UIS, AnalyticsLayer, AnalyticsUses
from components.layer import Layer
from components.monitoring import MonitoringLayer
from components.olap import OlapLayer
from components.platform import Platform
from components.processing import ProcessingLayer
from components.quality import QualityLayer
from components.query import QueryLayer
from components.security import SecurityLayer
from components.sso import OidcClient, SsoClients
from components.storage import StorageLayer
from components.streaming import CDC_SLOT, StreamingLayer

L = TypeVar("L", bound=Layer)


class Built:
    """The layers built so far, handed to each step by what the catalog lets it take."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.sso = SsoClients(platform) if platform.settings.enabled("security") else None
        self._layers: dict[str, Layer] = {}
        self._step = ""

    def layers(self) -> list[Layer]:
        return list(self._layers.values())

    def need(self, cls: type[L]) -> L:
        """A layer the current step requires (the settings refuse a stack without it), or the
        step's own layer when an earlier step built it."""
        self._allowed(cls.layer, catalog.LAYER_REQUIRES)
        return self._built(cls)

    def get(self, cls: type[L]) -> L | None:
        """A layer the current step uses when the stack enables it."""
        self._allowed(cls.layer, catalog.LAYER_USES)
        return self._built(cls) if self.platform.settings.enabled(cls.layer) else None

    def _built(self, cls: type[L]) -> L:
        layer = self._layers.get(cls.layer)
        if not isinstance(layer, cls):
            raise RuntimeError(f"the {self._step} step takes the {cls.layer} layer, which no earlier step built")
        return layer

    def sso_client(self, ui: str) -> OidcClient | None:
        return self.sso.client(ui) if self.sso else None

    def run(self, step: "Step") -> None:
        self._step = step.layer
        if (layer := step.build(self)) is not None:
            self._layers[layer.layer] = layer

    def _allowed(self, layer: str, edges: dict[str, tuple[str, ...]]) -> None:
        if layer != self._step and layer not in edges[self._step]:
            raise RuntimeError(
                f"the {self._step} step takes the {layer} layer, which catalog.LAYER_REQUIRES and LAYER_USES "
                f"do not give it: add the edge there"
            )


@dataclass(frozen=True)
class Step:
    """Runs when the stack enables `layer`; returns the layer it built, or None when it completes
    one built by an earlier step."""

    layer: str
    build: Callable[[Built], Layer | None]


def _postgres(built: Built) -> Layer:
    cdc_slots = (
        (CDC_SLOT,) if built.platform.settings.enabled("streaming") else ()
    )  # Debezium's slot survives failovers
    return StorageLayer(built.platform, logical_slots=cdc_slots)


def _security(built: Built) -> Layer:
    assert built.sso is not None, "SsoClients exist whenever the security layer is enabled"
    return SecurityLayer(built.platform, built.need(StorageLayer), built.sso)


def _lake(built: Built) -> None:
    security = built.get(SecurityLayer)
    built.need(StorageLayer).open_lake(
        sso=built.sso_client("minio-console"),
        identity_provider=[security.realm.container] if security else (),
    )


def _streaming(built: Built) -> Layer:
    return StreamingLayer(built.platform, built.need(StorageLayer))


def _processing(built: Built) -> Layer:
    streaming = built.get(StreamingLayer)
    return ProcessingLayer(
        built.platform, built.need(StorageLayer), streaming=streaming.endpoint if streaming else None
    )


def _olap(built: Built) -> Layer:
    return OlapLayer(built.platform)


def _query(built: Built) -> Layer:
    olap = built.get(OlapLayer)
    return QueryLayer(built.platform, built.need(StorageLayer), clickhouse=olap.endpoint if olap else None)


def _quality(built: Built) -> Layer:
    return QualityLayer(built.platform, built.need(QueryLayer).endpoint)


def _analytics(built: Built) -> Layer:
    query, olap, processing = built.get(QueryLayer), built.get(OlapLayer), built.get(ProcessingLayer)
    streaming = built.get(StreamingLayer)
    uses = AnalyticsUses(
        trino=query.endpoint if query else None,
        clickhouse=olap.endpoint if olap else None,
        spark=processing.endpoint if processing else None,
        spark_connect=processing.connect_endpoint if processing else None,
        kafka=streaming.endpoint if streaming else None,
        sso={ui: client for ui in SSO_UIS if (client := built.sso_client(ui))},
    )
    return AnalyticsLayer(built.platform, built.need(StorageLayer), uses)


def _monitoring(built: Built) -> Layer:
    return MonitoringLayer(built.platform, built.layers(), sso=built.sso_client("grafana"))


BUILD_ORDER: tuple[Step, ...] = (
    Step("storage", _postgres),
    Step("security", _security),
    Step("storage", _lake),
    Step("streaming", _streaming),
    Step("processing", _processing),
    Step("olap", _olap),
    Step("query", _query),
    Step("quality", _quality),
    Step("analytics", _analytics),
    Step("monitoring", _monitoring),  # last: it scrapes and watches every layer above
)


def build(platform: Platform) -> list[Layer]:
    """Every layer the stack enables, in `BUILD_ORDER`."""
    built = Built(platform)
    for step in BUILD_ORDER:
        if platform.settings.enabled(step.layer):
            built.run(step)
    return built.layers()
