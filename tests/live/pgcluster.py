"""The deployed PostgreSQL HA cluster, as the failover scenario of tests/integration/ sees it.

Reached only through HAProxy's ports published on 127.0.0.1 and `docker exec` (Patroni's REST
API answered inside each node's container); a crash is `docker kill` of the node's container.
"""

from __future__ import annotations

import docker

from components.pgha import PatroniNode, PgCredentials, PgHaTopology
from components.storage import HAPROXY_STATS_PORT, POSTGRES_PRIMARY_PORT, POSTGRES_REPLICAS_PORT
from tests.integration.pgcluster import PatroniQueries
from tests.live.deploy import LiveDeployment
from tests.live.stack import container_name, health_report, host_port

PATRONI_REST_PORT = 8008


class DockerPgCluster(PatroniQueries):
    def __init__(
        self,
        api: docker.APIClient,
        *,
        prefix: str,
        nodes: list[str],
        etcd: list[str],
        superuser_password: str,
        primary_port: int,
        replica_port: int,
        stats_port: int,
    ):
        from components.pgha import EtcdMember

        self.api = api
        self.prefix = prefix
        self.topology = PgHaTopology(
            scope="live",
            etcd=tuple(EtcdMember(name, name) for name in etcd),
            nodes=tuple(PatroniNode(name, name) for name in nodes),
        )
        # Only the superuser's password is used here; the others are the cluster's own business.
        self.credentials = PgCredentials(
            superuser_password=superuser_password, replication_password="-", rest_password="-"
        )
        self.primary_port, self.replica_port, self.stats_port = primary_port, replica_port, stats_port

    @classmethod
    def of(cls, live: LiveDeployment, api: docker.APIClient) -> DockerPgCluster:
        """The cluster a live deployment made: its nodes and HAProxy's ports on 127.0.0.1."""
        registered = live.deployment.containers()
        haproxy = registered["haproxy"]
        return cls(
            api,
            prefix=container_name(haproxy).removesuffix("-haproxy"),
            nodes=sorted(name for name in registered if name.startswith("patroni-")),
            etcd=sorted(name for name in registered if name.startswith("etcd-")),
            superuser_password=live.outputs["postgres_superuser_password"],
            primary_port=host_port(haproxy, POSTGRES_PRIMARY_PORT),
            replica_port=host_port(haproxy, POSTGRES_REPLICAS_PORT),
            stats_port=host_port(haproxy, HAPROXY_STATS_PORT),
        )

    def container(self, node: PatroniNode) -> str:
        return f"{self.prefix}-{node.name}"

    def wait_for_sync_replica(self, node: PatroniNode, timeout: float) -> None:
        try:
            super().wait_for_sync_replica(node, timeout)
        except TimeoutError as timeout_error:
            every_node = [self.container(n) for n in self.topology.nodes]
            raise TimeoutError(f"{timeout_error}\n{health_report(self.api, every_node)}") from None

    def rest_status(self, node: PatroniNode, path: str) -> int | None:
        try:
            result = self.api.exec_create(
                self.container(node),
                [
                    "curl",
                    "--silent",
                    "--output",
                    "/dev/null",
                    "--max-time",
                    "1",
                    "--write-out",
                    "%{http_code}",
                    f"http://localhost:{PATRONI_REST_PORT}{path}",
                ],
            )
            output = self.api.exec_start(result["Id"]).decode().strip()
        except docker.errors.APIError:  # the container is not running
            return None
        return int(output) if output.isdigit() and output != "000" else None

    def crash_node(self, node: PatroniNode) -> None:
        self.api.kill(self.container(node))

    def start_node(self, node: PatroniNode) -> None:
        """Back after a crash: started unless its restart policy already did."""
        if not self.api.inspect_container(self.container(node))["State"]["Running"]:
            self.api.start(self.container(node))

    def node_serving(self, address: str, port: int) -> PatroniNode | None:
        """The node whose container has `address` on one of its networks (read, never dialled)."""
        for node in self.topology.nodes:
            networks = self.api.inspect_container(self.container(node))["NetworkSettings"]["Networks"]
            if any(network.get("IPAddress") == address for network in networks.values()):
                return node
        return None
