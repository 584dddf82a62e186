"""The layer graph (components/graph.py) and the shape every layer shares (components/layer.py,
components/service.py): the build order respects the catalog's edges, a step cannot reach for a
layer the catalog does not give it, URLs come from the catalog, and a lifecycle that contradicts
the catalog is refused with the fix."""

import pytest

from components import catalog, graph
from components.olap import OlapLayer
from components.platform import Platform
from components.service import OnDemandJob, Server, Service, ServiceArgs
from components.settings import load_settings
from harness.offline import engine_config, run_function


def first_steps() -> dict[str, int]:
    steps: dict[str, int] = {}
    for index, step in enumerate(graph.BUILD_ORDER):
        steps.setdefault(step.layer, index)
    return steps


def test_every_layer_has_a_step_and_comes_after_what_it_requires_or_uses():
    first = first_steps()
    assert set(first) == set(catalog.LAYERS)
    for index, step in enumerate(graph.BUILD_ORDER):
        for other in (*catalog.LAYER_REQUIRES[step.layer], *catalog.LAYER_USES[step.layer]):
            if other == "security" and step.layer == "storage" and index == first["storage"]:
                continue  # PostgreSQL HA comes first; the step that uses Keycloak comes after it
            assert first[other] < index, f"the {step.layer} step at {index} takes {other}, built at {first[other]}"


def test_the_catalog_edges_name_catalog_layers():
    for edges in (catalog.LAYER_REQUIRES, catalog.LAYER_USES):
        assert set(edges) == set(catalog.LAYERS)
        assert {layer for others in edges.values() for layer in others} <= set(catalog.LAYERS)


def test_a_step_that_takes_a_layer_the_catalog_does_not_give_it_is_refused():
    def quality_reaching_for_olap(built):
        built.need(OlapLayer)

    def program():
        platform = Platform(load_settings({"layers": ["olap", "monitoring"], "protectData": False}))
        built = graph.Built(platform)
        built.run(graph.Step("olap", lambda b: OlapLayer(b.platform)))
        built.run(graph.Step("quality", quality_reaching_for_olap))

    with pytest.raises(Exception, match=r"quality step takes the olap layer.*LAYER_USES"):
        run_function(program, engine_config({}))


def test_every_published_port_but_kafkas_has_a_url_shape():
    assert set(catalog.PORT_URLS) == set(catalog.ALL_PORT_NAMES) - {"kafka"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_urls_are_exported_for_every_published_port(stack, request):
    outputs = request.getfixturevalue(stack).outputs
    assert {f"{shape.output}_url" for port, shape in catalog.PORT_URLS.items() if _published(stack, port)} <= set(
        outputs
    )


def _published(stack: str, port: str) -> bool:
    from harness.offline import settings_of

    settings = settings_of(stack)
    return settings.deploys(catalog.port_owner(port)) and settings.host_port(port) is not None


@pytest.mark.parametrize(
    ("service", "lifecycle", "message"),
    [
        ("dbt", Server, "dbt runs on demand"),
        ("redis", OnDemandJob, "redis is not an on-demand job"),
    ],
)
def test_a_lifecycle_that_contradicts_the_catalog_is_refused(service, lifecycle, message):
    from components.service import HealthCheck

    def program():
        platform = Platform(load_settings({"layers": ["storage", "query", "analytics"], "protectData": False}))
        chosen = Server(HealthCheck.command("true")) if lifecycle is Server else OnDemandJob()
        Service(service, ServiceArgs(spec=platform.settings.service(service), lifecycle=chosen), platform)

    with pytest.raises(Exception, match=message):
        run_function(program, engine_config({}))
