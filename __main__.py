"""Datalyptica: the whole data platform on one Docker host.

Reads the stack's config, refuses it before anything is registered if it cannot work, then
builds the enabled layers in dependency order and exports their endpoints.
"""

from collections.abc import Mapping
from typing import Protocol, TypeVar

import pulumi

from components import secrets
from components.analytics import AnalyticsLayer, AnalyticsLinks
from components.monitoring import MonitoringLayer
from components.olap import OlapLayer
from components.processing import ProcessingLayer
from components.quality import QualityLayer
from components.query import QueryLayer
from components.security import SecurityLayer
from components.service import Platform
from components.settings import SettingsError, config_from_engine, load_settings, stack_config
from components.sso import OidcClient, SsoClients
from components.storage import StorageLayer
from components.streaming import CDC_SLOT, StreamingLayer

Layer = TypeVar("Layer")


class Exported(Protocol):
    @property
    def urls(self) -> Mapping[str, str | None]: ...

    @property
    def credentials(self) -> Mapping[str, pulumi.Input[str]]: ...


def main() -> None:
    try:
        settings = load_settings(config_from_engine(stack_config()))
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in settings.capacity_warnings():
        pulumi.log.warn(warning)

    secrets.keep_with_data(settings.protect_data)
    platform = Platform(settings)
    # Settings have checked that every enabled layer has the layers it needs.
    # The UIs' OIDC clients exist before any UI, so each UI is configured with its own; the
    # realm that holds them is imported when Keycloak starts, after storage.
    sso = SsoClients(platform) if settings.enabled("security") else None

    def client(ui: str) -> OidcClient | None:
        return sso.client(ui) if sso else None

    cdc_slots = (CDC_SLOT,) if settings.enabled("streaming") else ()  # Debezium's slot survives failovers
    storage = (
        StorageLayer(platform, sso=client("minio-console"), logical_slots=cdc_slots)
        if settings.enabled("storage")
        else None
    )
    security = SecurityLayer(platform, storage=needed(storage), clients=sso) if sso else None
    streaming = StreamingLayer(platform, needed(storage)) if settings.enabled("streaming") else None
    processing = (
        ProcessingLayer(platform, needed(storage), streaming=streaming.endpoints if streaming else None)
        if settings.enabled("processing")
        else None
    )
    olap = OlapLayer(platform) if settings.enabled("olap") else None
    query = (
        QueryLayer(platform, needed(storage), clickhouse=olap.endpoint if olap else None)
        if settings.enabled("query")
        else None
    )
    quality = QualityLayer(platform, needed(query).endpoint) if settings.enabled("quality") else None
    analytics = (
        AnalyticsLayer(
            platform,
            needed(storage),
            AnalyticsLinks.from_layers(query=query, olap=olap, processing=processing, sso=sso),
        )
        if settings.enabled("analytics")
        else None
    )
    # Monitoring last: Prometheus scrapes every service deployed before it.
    monitoring = (
        MonitoringLayer(
            platform,
            storage=storage,
            sso=client("grafana"),
            redis_password=analytics.redis_password if analytics else None,
        )
        if settings.enabled("monitoring")
        else None
    )
    for layer in (storage, security, streaming, processing, olap, query, quality, analytics, monitoring):
        if layer is not None:
            export(layer)


def needed(layer: Layer | None) -> Layer:
    """A layer that an enabled one builds on; the settings refuse a stack that lacks it."""
    assert layer is not None, "the settings let a layer through without one it needs (catalog.LAYER_REQUIRES)"
    return layer


def export(layer: Exported) -> None:
    """Every layer exposes `urls` (None where a port is not published) and secret `credentials`."""
    for name, url in layer.urls.items():
        if url:
            pulumi.export(f"{name}_url", url)
    for name, value in layer.credentials.items():
        pulumi.export(name, pulumi.Output.secret(value))


main()
