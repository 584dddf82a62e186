"""JupyterHub: spawns each user's notebook container (DockerSpawner) on the shared notebooks network."""

from typing import TYPE_CHECKING

import pulumi

from components import analytics, secrets
from components import analytics_configs as configs
from components.service import File, HealthCheck, Metrics, Port, Server, Service, ServiceArgs

if TYPE_CHECKING:
    from components.analytics import AnalyticsLayer

JUPYTERHUB_PORT = 8000
JUPYTERHUB_HUB_PORT = 8081
JUPYTERHUB_UID = "0"  # the hub drives the Docker socket, root-equivalent anyway
HUB_DIR = "/srv/jupyterhub"
DOCKER_SOCKET_IN_CONTAINER = "/var/run/docker.sock"  # where DockerSpawner looks for it


def notebook_environment(layer: "AnalyticsLayer") -> tuple[pulumi.Output[dict[str, str]], tuple[pulumi.Resource, ...]]:
    """What notebooks use, by the names their client libraries read (only enabled layers), and
    the resources it needs: notebooks get the shared database and their own bucket user on the lake."""
    storage = layer.storage.endpoints
    bucket = layer.storage.buckets("notebooks", [storage.warehouse_bucket, storage.landing_bucket], parent=layer)
    uses, shared = layer.uses, layer.shared_data
    env = pulumi.Output.all(analytics.login(shared), bucket.access_key, bucket.secret_key).apply(
        lambda values: configs.notebook_environment(
            postgres=values[0],
            trino_url=uses.trino.url if uses.trino else None,
            s3_endpoint=storage.s3_endpoint,
            s3_access_key=values[1],
            s3_secret_key=values[2],
            s3_region=storage.s3_region,
            nessie_url=storage.nessie.url,
            mlflow_tracking_uri=layer.mlflow.url,
            spark_master_url=uses.spark.url if uses.spark else None,
        )
    )
    return env, (*shared.resources, *bucket.resources)


def hub(layer: "AnalyticsLayer") -> Service:
    platform = layer.platform
    notebook = layer.spec("notebook")
    # Built from images/jupyterlab-notebook, unless the stack pins another image for notebooks.
    notebook_image_name = platform.built_image_name(notebook.built_image) if notebook.built_image else notebook.image
    notebook_image = platform.image(notebook, parent=layer)  # built here, run by DockerSpawner
    database, plain_database = layer.database("jupyterhub")
    token_file, cookie_file, admin_file = (
        f"{HUB_DIR}/secrets/{n}" for n in ("proxy_auth_token", "cookie_secret", "admin_password")
    )
    public_url = platform.url("jupyterhub")
    notebook_env, notebook_resources = notebook_environment(layer)
    config = pulumi.Output.all(plain_database, notebook_env, layer.oidc("jupyterhub")).apply(
        lambda values: configs.render_jupyterhub_config(
            configs.JupyterHubConfig(
                network_name=platform.container_name("notebooks"),
                notebook_container_prefix=platform.container_name("jupyter"),
                notebook_image=notebook_image_name,
                notebook_cpu_limit=notebook.cpus,
                notebook_mem_limit=f"{notebook.memory_mb}M",
                admin_user=layer.admin_user,
                database=values[0],
                proxy_auth_token_file=token_file,
                cookie_secret_file=cookie_file,
                hub_connect_host="jupyterhub",
                hub_port=JUPYTERHUB_HUB_PORT,
                notebook_environment=values[1],
                oidc=values[2] if public_url else None,
                public_url=public_url,
                admin_password_file=admin_file,
                active_server_limit=notebook.replicas,
            )
        )
    )

    def secret_file(path: str, content: pulumi.Input[str]) -> File:
        return File(path, content, secret=True, owner=JUPYTERHUB_UID)

    return layer.service(
        "jupyterhub",
        ServiceArgs(
            spec=layer.spec("jupyterhub"),
            lifecycle=Server(HealthCheck.curl(f"http://localhost:{JUPYTERHUB_PORT}/hub/health")),
            # The notebooks network comes with the catalog's shared networks (catalog.SHARED_NETWORKS).
            networks=[layer.network],
            uses=[database, layer.mlflow],
            env={"NOTEBOOK_IMAGE_ID": notebook_image},  # a rebuilt notebook image restarts the hub on it
            files=[
                secret_file(f"{HUB_DIR}/jupyterhub_config.py", config),
                secret_file(token_file, secrets.hex_token("jupyterhub-proxy-auth-token", parent=layer)),
                secret_file(cookie_file, secrets.hex_token("jupyterhub-cookie-secret", parent=layer)),
                secret_file(admin_file, layer.jupyterhub_admin_password),
            ],
            # DockerSpawner starts each user's notebook (and its volume, which Pulumi does not manage).
            host_paths={layer.settings.docker_socket: DOCKER_SOCKET_IN_CONTAINER},
            ports=[Port("jupyterhub", JUPYTERHUB_PORT)],
            metrics=Metrics(JUPYTERHUB_PORT, "/hub/metrics"),
            depends_on=notebook_resources,
        ),
    )
