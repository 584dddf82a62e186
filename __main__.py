"""Datalyptica: the whole data platform on one Docker host.

Reads the stack's config, refuses it before anything is registered if it cannot work, then
builds the enabled layers in dependency order and exports their endpoints.
"""

import pulumi

from components.monitoring import MonitoringLayer
from components.security import SecurityLayer
from components.settings import SettingsError, config_from_engine, load_settings, stack_config
from components.service import Platform
from components.sso import SsoClients
from components.storage import StorageLayer


def main() -> None:
    try:
        settings = load_settings(config_from_engine(stack_config()))
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in settings.capacity_warnings():
        pulumi.log.warn(warning)

    platform = Platform(settings)
    # The UIs' OIDC clients exist before any UI, so each UI is configured with its own; the
    # realm that holds them is imported when Keycloak starts, after storage.
    sso = SsoClients(platform) if settings.enabled("security") else None

    def client(ui: str):
        return sso.client(ui) if sso else None

    storage = None
    if settings.enabled("storage"):
        storage = StorageLayer(platform, sso=client("minio-console"))
        export(storage)
    if sso is not None and storage is not None:
        export(SecurityLayer(platform, storage=storage, clients=sso))
    # Monitoring last: Prometheus scrapes every service deployed before it.
    if settings.enabled("monitoring"):
        export(MonitoringLayer(platform, storage=storage, sso=client("grafana")))


def export(layer) -> None:
    """Every layer exposes `urls` (None where a port is not published) and secret `credentials`."""
    for name, url in layer.urls.items():
        if url:
            pulumi.export(f"{name}_url", url)
    for name, value in layer.credentials.items():
        pulumi.export(name, pulumi.Output.secret(value))


main()
