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
    layers = graph.build(Platform(settings))
    for layer in layers:
        export(layer)
    pulumi.log.info(where_to_go(layers, deployed=not pulumi.runtime.is_dry_run()))


def where_to_go(layers: list[Layer], *, deployed: bool) -> str:
    """What a person does after `pulumi up`: the addresses to open, and where the logins are."""
    urls = sorted((name, url) for layer in layers for name, url in layer.urls.items() if url)
    width = max((len(name) for name, _ in urls), default=0)
    return "\n".join(
        [
            "Datalyptica is up; its addresses:" if deployed else "Once `pulumi up` has run, its addresses will be:",
            *(f"  {name:<{width}}  {url}" for name, url in urls),
            "Logins (first admins, generated): pulumi stack output --show-secrets",
            "Logging in, adding users, taking it down: docs/operations.md",
        ]
    )


def export(layer: Layer) -> None:
    """Every layer's published URLs (`<name>_url`) and its credentials, always secret."""
    for name, url in layer.urls.items():
        if url:
            pulumi.export(f"{name}_url", url)
    for name, value in layer.credentials.items():
        pulumi.export(name, pulumi.Output.secret(value))


main()
