"""StorageLayer: the object store (MinIO or SeaweedFS), etcd x3, PostgreSQL HA (Patroni x2 behind
HAProxy) and Nessie.

It also provisions for the other layers: a database owned by a consumer's own login role, and
buckets reachable with a consumer's own object-store identity whose permissions name only those
buckets (components/objectstore.py); each comes as an endpoint (components/endpoints.py).

It is built in two explicit steps, because single sign-on sits between them: the constructor
builds PostgreSQL HA (where Keycloak keeps its realm), and `open_lake` the object store and
Nessie, once the realm exists (MinIO reads its OpenID discovery document when it starts).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_postgresql as postgresql

from components import pgha, secrets
from components.endpoints import BucketAccess, DatabaseAccess, NessieEndpoint, PostgresToWatch, ReplicationAccess
from components.layer import Layer
from components.objectstore import ObjectStore, object_store
from components.platform import Platform
from components.service import File, HealthCheck, Metrics, Port, Server, Service, ServiceArgs
from components.sso import OidcClient
from components.templates import render_output

POSTGRES_PRIMARY_PORT = 5000
POSTGRES_REPLICAS_PORT = 5001
HAPROXY_STATS_PORT = 7000
NESSIE_PORT = 19120
NESSIE_MANAGEMENT_PORT = 9000
WAREHOUSE_BUCKET = "warehouse"  # Iceberg tables, catalogued by Nessie
LANDING_BUCKET = "landing"  # raw files as they arrive, before any table holds them
PATRONI_SCOPE = "datalyptica"
POSTGRES_UID = "999"  # the postgres user of the official postgres image our Patroni image builds on
POSTGRES_SOCKET_TMPFS = f"uid={POSTGRES_UID},gid={POSTGRES_UID},mode={pgha.IMAGE_SOCKET_DIR_MODE}"
NESSIE_UID = "10000"


@dataclass(frozen=True)
class StorageEndpoints:
    """What the other layers use of storage, by the names they answer to on `network`."""

    network: docker.Network
    postgres_host: str
    postgres_port: int
    postgres_replicas_port: int
    s3_endpoint: str
    s3_region: str
    nessie: NessieEndpoint
    warehouse_bucket: str
    landing_bucket: str


class StorageLayer(Layer):
    layer = "storage"

    def __init__(self, platform: Platform, *, logical_slots: Sequence[pgha.LogicalSlot] = ()):
        """PostgreSQL HA; `open_lake` adds the object store and Nessie.
        `logical_slots`: replication slots of consumers (change data capture) kept across failovers."""
        super().__init__(platform)
        self.network = self.own_network("storage")
        self.ha_network = self.own_network("postgres-ha", internal=True)
        self._logical_slots = tuple(logical_slots)

        self.postgres_superuser_password = secrets.password("postgres-superuser-password", parent=self)
        replication_password = secrets.password("postgres-replication-password", parent=self)
        rest_password = secrets.password("patroni-rest-password", parent=self)

        topology = self._topology()
        etcd = [self._etcd(member, topology) for member in topology.etcd]
        patroni = [
            self._patroni(node, topology, replication_password, rest_password, depends_on=[s.container for s in etcd])
            for node in topology.nodes
        ]
        self.haproxy = self._haproxy(topology, depends_on=[s.container for s in patroni])
        self._postgres = self._postgres_provider()
        self.watched.append(PostgresToWatch((self.network,), self._monitoring_role))
        self.credentials = {
            "postgres_superuser": pulumi.Output.secret("postgres"),
            "postgres_superuser_password": self.postgres_superuser_password,
        }

    def open_lake(self, *, sso: OidcClient | None = None, identity_provider: Sequence[pulumi.Resource] = ()) -> None:
        """The object store (with its lake buckets) and Nessie; then the layer is complete.

        `sso`: the MinIO console's client, without which the console keeps only the root login
        (SeaweedFS has no console and takes none); `identity_provider`: what MinIO waits for
        before it starts with `sso` (the realm job: the realm exists once it is done)."""
        self.object_store: ObjectStore = object_store(
            self, networks=[self.network], sso=sso, identity_provider=identity_provider
        )
        self.object_store.ensure_buckets([WAREHOUSE_BUCKET, LANDING_BUCKET], parent=self)
        self.nessie = self._nessie()
        self.endpoints = StorageEndpoints(
            network=self.network,
            postgres_host=self.haproxy.host,
            postgres_port=POSTGRES_PRIMARY_PORT,
            postgres_replicas_port=POSTGRES_REPLICAS_PORT,
            s3_endpoint=self.object_store.endpoint,
            s3_region=self.object_store.region,
            nessie=NessieEndpoint(self.nessie.host, NESSIE_PORT, (self.network,), (self.nessie.container,)),
            warehouse_bucket=WAREHOUSE_BUCKET,
            landing_bucket=LANDING_BUCKET,
        )
        self.credentials = {**self.object_store.credentials, **self.credentials}
        self.finish()

    # ---- provisioning for consumers ------------------------------------------------------

    def database(self, consumer: str, *, parent: pulumi.Resource, database: str | None = None) -> DatabaseAccess:
        """A database owned by the consumer's own login role, reachable only by that role."""
        name = database or consumer.replace("-", "_")
        password = secrets.password(f"{consumer}-db-password", parent=parent)
        options = pulumi.ResourceOptions(parent=parent, provider=self._postgres)
        data = pulumi.ResourceOptions(protect=self.settings.protect_data, retain_on_delete=self.settings.protect_data)
        # The owner is kept with its database: PostgreSQL cannot drop a role that owns a retained
        # database, so a destroy would stop part-way.
        role = postgresql.Role(
            f"{consumer}-db-role",
            name=name,
            login=True,
            password=password,
            opts=pulumi.ResourceOptions.merge(options, data),
        )
        created = postgresql.Database(
            f"{consumer}-database",
            name=name,
            owner=role.name,
            opts=pulumi.ResourceOptions.merge(options, data),
        )
        no_public_access = postgresql.Grant(
            f"{consumer}-database-revoke-public",
            database=created.name,
            role="public",
            object_type="database",
            privileges=[],
            opts=options,
        )
        return DatabaseAccess(
            host=self.haproxy.host,
            port=POSTGRES_PRIMARY_PORT,
            database=name,
            username=name,
            password=password,
            resources=(role, created, no_public_access),
            networks=(self.network,),
        )

    def replication_role(
        self, consumer: str, *, database: DatabaseAccess, publication: str, parent: pulumi.Resource
    ) -> ReplicationAccess:
        """A login role with REPLICATION that captures every change of `database` (e.g. for Debezium).

        The role may connect to the database and read its tables in schema public, also those its
        owner creates later (a capture starts with a snapshot), and streams changes from
        `publication`, which is created FOR ALL TABLES. The role owns nothing and cannot write.
        """
        name = consumer.replace("-", "_")
        password = secrets.password(f"{consumer}-replication-password", parent=parent)
        options = pulumi.ResourceOptions(parent=parent, provider=self._postgres)
        in_database = pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(depends_on=list(database.resources)))
        role = postgresql.Role(
            f"{consumer}-replication-role",
            name=name,
            login=True,
            replication=True,
            password=password,
            opts=options,
        )
        connect = postgresql.Grant(
            f"{consumer}-connect",
            database=database.database,
            role=role.name,
            object_type="database",
            privileges=["CONNECT"],
            opts=in_database,
        )
        read_tables = postgresql.Grant(
            f"{consumer}-read-tables",
            database=database.database,
            schema="public",
            role=role.name,
            object_type="table",
            objects=[],
            privileges=["SELECT"],
            opts=in_database,
        )
        read_future_tables = postgresql.DefaultPrivileges(
            f"{consumer}-read-future-tables",
            database=database.database,
            schema="public",
            owner=database.username,
            role=role.name,
            object_type="table",
            privileges=["SELECT"],
            opts=in_database,
        )
        created = postgresql.Publication(
            f"{consumer}-publication",
            name=publication,
            database=database.database,
            all_tables=True,
            opts=in_database,
        )
        return ReplicationAccess(
            host=database.host,
            port=database.port,
            database=database.database,
            username=name,
            password=password,
            publication=publication,
            resources=(*database.resources, role, connect, read_tables, read_future_tables, created),
            networks=database.networks,
        )

    def buckets(
        self, consumer: str, buckets: Sequence[str], *, parent: pulumi.Resource, sets_object_acls: bool = False
    ) -> BucketAccess:
        """The consumer's own object-store identity, allowed on these buckets only (created when
        missing); `sets_object_acls` as in ObjectStore.buckets."""
        return self.object_store.buckets(consumer, buckets, parent=parent, sets_object_acls=sets_object_acls)

    def _monitoring_role(self, consumer: str, parent: pulumi.Resource) -> DatabaseAccess:
        """A login role with PostgreSQL's built-in `pg_monitor` (read the statistics views, nothing else).

        It owns no database: it connects to `postgres`, which every role may connect to.
        """
        name = consumer.replace("-", "_")
        password = secrets.password(f"{consumer}-db-password", parent=parent)
        role = postgresql.Role(
            f"{consumer}-db-role",
            name=name,
            login=True,
            password=password,
            roles=["pg_monitor"],
            opts=pulumi.ResourceOptions(parent=parent, provider=self._postgres),
        )
        return DatabaseAccess(
            host=self.haproxy.host,
            port=POSTGRES_PRIMARY_PORT,
            database="postgres",
            username=name,
            password=password,
            resources=(role,),
            networks=(self.network,),
        )

    # ---- the services --------------------------------------------------------------------

    def _topology(self) -> pgha.PgHaTopology:
        settings = self.settings
        return pgha.PgHaTopology(
            scope=PATRONI_SCOPE,
            etcd=tuple(
                pgha.EtcdMember(name=f"etcd-{i}", host=f"etcd-{i}")
                for i in range(1, settings.service("etcd").replicas + 1)
            ),
            nodes=tuple(
                pgha.PatroniNode(name=f"patroni-{i}", host=f"patroni-{i}")
                for i in range(1, settings.service("patroni").replicas + 1)
            ),
        )

    def _etcd(self, member: pgha.EtcdMember, topology: pgha.PgHaTopology) -> Service:
        data_dir = "/var/lib/etcd"
        return self.service(
            member.name,
            ServiceArgs(
                spec=self.spec("etcd"),
                lifecycle=Server(HealthCheck.command("etcdctl", "endpoint", "health", start_period="20s")),
                networks=[self.ha_network],
                command=pgha.etcd_command(topology, member, data_dir=data_dir),
                volumes={"data": data_dir},
                metrics=Metrics(member.client_port),
            ),
        )

    def _patroni(
        self,
        node: pgha.PatroniNode,
        topology: pgha.PgHaTopology,
        replication_password: pulumi.Output[str],
        rest_password: pulumi.Output[str],
        *,
        depends_on: Sequence[pulumi.Resource],
    ) -> Service:
        config = pulumi.Output.all(self.postgres_superuser_password, replication_password, rest_password).apply(
            lambda passwords: pgha.render_patroni_config(
                topology,
                node,
                pgha.PgCredentials(
                    superuser_password=passwords[0], replication_password=passwords[1], rest_password=passwords[2]
                ),
                pgha.PostgresPaths.in_image(self.settings.postgres_major),
                logical_slots=self._logical_slots,
            )
        )
        return self.service(
            node.name,
            ServiceArgs(
                spec=self.spec("patroni"),
                lifecycle=Server(HealthCheck.curl(f"http://localhost:{node.rest_port}/health", start_period="60s")),
                networks=[self.ha_network],
                files=[File(pgha.IMAGE_CONFIG_PATH, config, secret=True, owner=POSTGRES_UID)],
                volumes={"data": pgha.IMAGE_VOLUME_DIR},
                metrics=Metrics(node.rest_port),
                shm_size_mb=256,
                tmpfs={pgha.IMAGE_SOCKET_DIR: POSTGRES_SOCKET_TMPFS},
                depends_on=depends_on,
            ),
        )

    def _haproxy(self, topology: pgha.PgHaTopology, *, depends_on: Sequence[pulumi.Resource]) -> Service:
        config = pgha.render_haproxy_config(
            topology,
            primary_port=POSTGRES_PRIMARY_PORT,
            replica_port=POSTGRES_REPLICAS_PORT,
            stats_port=HAPROXY_STATS_PORT,
        )
        return self.service(
            "haproxy",
            ServiceArgs(
                spec=self.spec("haproxy"),
                # Healthy only while the primary has an up server, so the postgresql provider (which
                # connects once HAProxy is created) finds a primary. The image (docker-library/haproxy
                # 3.2/Dockerfile at ef134ca "Update 3.2 to 3.2.4") is debian:trixie-slim with only
                # ca-certificates added: bash (Essential in Debian) but no curl, wget or socat.
                lifecycle=Server(HealthCheck.http_via_bash(HAPROXY_STATS_PORT, pgha.HAPROXY_PRIMARY_READY_PATH)),
                networks=[self.ha_network, self.network],
                files=[File(pgha.HAPROXY_CONFIG_PATH, config)],
                ports=[
                    Port("postgres-primary", POSTGRES_PRIMARY_PORT),
                    Port("postgres-replicas", POSTGRES_REPLICAS_PORT),
                    Port("haproxy-stats", HAPROXY_STATS_PORT),
                ],
                metrics=Metrics(HAPROXY_STATS_PORT),
                depends_on=depends_on,
            ),
        )

    def _nessie(self) -> Service:
        database = self.database("nessie", parent=self)
        bucket_access = self.buckets("nessie", [WAREHOUSE_BUCKET], parent=self)
        config_path = "/etc/nessie/application.properties"
        config = render_output(
            "nessie/application.properties.j2",
            database=database.template_values(),
            s3=bucket_access.template_values(),
            warehouse_bucket=WAREHOUSE_BUCKET,
        )
        return self.service(
            "nessie",
            ServiceArgs(
                spec=self.spec("nessie"),
                lifecycle=Server(
                    HealthCheck.http_via_bash(NESSIE_MANAGEMENT_PORT, "/q/health/ready", start_period="60s")
                ),
                networks=[self.network],
                uses=[database, bucket_access],
                env={"QUARKUS_CONFIG_LOCATIONS": config_path},
                files=[File(config_path, config, secret=True, owner=NESSIE_UID)],
                ports=[Port("nessie", NESSIE_PORT)],
                metrics=Metrics(NESSIE_MANAGEMENT_PORT, "/q/metrics"),
            ),
        )

    # ---- admin connections the program itself uses --------------------------------------

    def _postgres_provider(self) -> postgresql.Provider:
        """Connects through HAProxy's primary port as published on the Docker host."""
        settings = self.settings
        return postgresql.Provider(
            "postgres-admin",
            host=settings.endpoint_host,
            port=settings.host_port("postgres-primary"),
            username="postgres",
            password=self.postgres_superuser_password,
            sslmode="disable",
            superuser=True,
            connect_timeout=180,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.haproxy.container]),
        )
