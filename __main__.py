"""Datalyptica: the whole data platform on one Docker host.

Reads the stack's config, refuses it before anything is registered if it cannot work, then
builds the enabled layers in the order of the layer graph (components/graph.py) and exports
their endpoints.
"""

import pulumi

from components import graph, secrets
from components.layer import Layer
from components.platform import Platform
from components.settings import SettingsError, config_from_engine, load_settings, stack_config


def main() -> None:
    try:
        settings = load_settings(config_from_engine(stack_config()))
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in settings.capacity_warnings():
        pulumi.log.warn(warning)

    secrets.keep_with_data(settings.protect_data)
    for layer in graph.build(Platform(settings)):
        export(layer)


def export(layer: Layer) -> None:
    """Every layer's published URLs (`<name>_url`) and its credentials, always secret."""
    for name, url in layer.urls.items():
        if url:
            pulumi.export(f"{name}_url", url)
    for name, value in layer.credentials.items():
        pulumi.export(name, pulumi.Output.secret(value))


main()
