"""Datalyptica: the whole data platform on one Docker host.

Reads the stack's config, refuses it before anything is registered if it cannot work, then
builds the enabled layers in dependency order and exports their endpoints.
"""

import pulumi

from components.settings import SettingsError, config_from_engine, load_settings, stack_config
from components.service import Platform
from components.storage import StorageLayer
from components.analytics import AnalyticsLayer


def main() -> None:
    try:
        settings = load_settings(config_from_engine(stack_config()))
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in settings.capacity_warnings():
        pulumi.log.warn(warning)

    platform = Platform(settings)
    storage = StorageLayer(platform) if settings.enabled("storage") else None
    if storage:
        export(storage)
    if settings.enabled("analytics"):  # settings refuse analytics without storage
        export(AnalyticsLayer(platform, storage))


def export(layer) -> None:
    """Every layer exposes `urls` (None where a port is not published) and secret `credentials`."""
    for name, url in layer.urls.items():
        if url:
            pulumi.export(f"{name}_url", url)
    for name, value in layer.credentials.items():
        pulumi.export(name, pulumi.Output.secret(value))


main()
