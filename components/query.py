"""QueryLayer: Trino (Iceberg on Nessie, PostgreSQL and, with the OLAP layer, ClickHouse) and dbt.

Trino gets its own object-store identity (warehouse and landing buckets), its own PostgreSQL database and,
when the OLAP layer runs, ClickHouse's login: each catalog file that holds a credential is a
secret file readable only by the trino user. dbt is a job container: created, never started by
`pulumi up`.
"""

import re
from pathlib import Path

import pulumi
import yaml

from components.endpoints import ClickHouseEndpoint, Endpoint, TrinoEndpoint
from components.layer import Layer
from components.platform import Platform
from components.service import File, HealthCheck, Metrics, OnDemandJob, Port, Server, Service, ServiceArgs
from components.storage import LANDING_BUCKET, WAREHOUSE_BUCKET, StorageLayer
from components.templates import render, render_output

TRINO_PORT = 8080
TRINO_UID = "1000"  # the trino user of the trinodb/trino image
TRINO_ETC = "/etc/trino"
ICEBERG_CATALOG = "iceberg"
NESSIE_REF = "main"
# Trino 481 renamed the switch of its S3 file system (trinodb/trino#29070).
S3_SWITCH_RENAMED_IN = 481

DBT_PROJECT_SOURCE = Path(__file__).resolve().parent.parent / "dbt"
DBT_PROJECT_DIR = "/usr/app/dbt"  # owned by the image's dbt user, so target/ and logs/ can be written
DBT_PROFILES_DIR = "/etc/dbt"
DBT_PROFILE = "datalyptica"  # the `profile:` of dbt/dbt_project.yml
DBT_TRINO_USER = "dbt"  # Trino has no authentication here: the name only labels dbt's queries
DBT_SCHEMA = "analytics"
DBT_TARGET = "platform"
DBT_SKIPPED = frozenset({"target", "logs", "dbt_packages"})


def s3_switch(trino_image: str) -> str:
    """The catalog property that turns on Trino's S3 file system, for the release `trino_image` runs."""
    match = re.search(r":(\d+)$", trino_image)
    if not match:
        raise pulumi.RunError(
            f"datalyptica:services.trino.image: {trino_image!r} is not a numbered Trino release; pin one such as "
            f"trinodb/trino:479 (the catalog's S3 switch is named after the release: fs.native-s3.enabled before "
            f"{S3_SWITCH_RENAMED_IN}, fs.s3.enabled from it)"
        )
    return "fs.s3.enabled" if int(match.group(1)) >= S3_SWITCH_RENAMED_IN else "fs.native-s3.enabled"


def dbt_project_files() -> list[File]:
    """The dbt project as uploads, so a changed model shows in `pulumi preview` and replaces the job."""
    return File.tree(DBT_PROJECT_SOURCE, DBT_PROJECT_DIR, DBT_SKIPPED)


DBT_PROFILE_HEADER = """\
# The dbt project's connection: Trino of the query layer, Iceberg catalog.
# Trino runs without authentication on the platform's networks, so there is no password here.
"""


def dbt_profile(*, host: str = "trino", port: int = TRINO_PORT, threads: int = 4) -> str:
    """profiles.yml: dumped rather than templated, so every value is quoted as YAML needs."""
    target: dict[str, str | int] = {
        "type": "trino",
        "method": "none",
        "user": DBT_TRINO_USER,
        "host": host,
        "port": port,
        "http_scheme": "http",
        "database": ICEBERG_CATALOG,
        "schema": DBT_SCHEMA,
        "threads": threads,
    }
    profile = {DBT_PROFILE: {"target": DBT_TARGET, "outputs": {DBT_TARGET: target}}}
    return DBT_PROFILE_HEADER + yaml.safe_dump(profile, sort_keys=False)


class QueryLayer(Layer):
    layer = "query"

    def __init__(self, platform: Platform, storage: StorageLayer, *, clickhouse: ClickHouseEndpoint | None = None):
        super().__init__(platform)
        self.network = self.own_network("query")
        self.trino = self._trino(storage, clickhouse)
        self.endpoint = TrinoEndpoint(
            self.trino.host, TRINO_PORT, (self.network,), (self.trino.container,), iceberg_catalog=ICEBERG_CATALOG
        )
        self.dbt = self._dbt()
        self.finish()  # Trino has no login of its own yet: no credentials

    def _trino(self, storage: StorageLayer, clickhouse: ClickHouseEndpoint | None) -> Service:
        spec = self.spec("trino")
        lake = storage.endpoints
        bucket_access = storage.buckets("trino", [WAREHOUSE_BUCKET, LANDING_BUCKET], parent=self)
        database = storage.database("trino", parent=self)

        def catalog(name: str, content: pulumi.Input[str]) -> File:
            return File(f"{TRINO_ETC}/catalog/{name}.properties", content, secret=True, owner=TRINO_UID)

        files = [
            File(f"{TRINO_ETC}/config.properties", render("trino/config.properties.j2", http_port=TRINO_PORT)),
            catalog(
                ICEBERG_CATALOG,
                render_output(
                    "trino/catalog/iceberg.properties.j2",
                    nessie_uri=lake.nessie.api_uri,
                    nessie_ref=NESSIE_REF,
                    warehouse_bucket=lake.warehouse_bucket,
                    s3_switch=s3_switch(spec.image),
                    s3=bucket_access.template_values(),
                ),
            ),
            catalog(
                "postgresql",
                render_output("trino/catalog/postgresql.properties.j2", database=database.template_values()),
            ),
        ]
        uses: list[Endpoint] = [bucket_access, database]
        if clickhouse is not None:
            files.append(
                catalog(
                    "clickhouse",
                    render_output(
                        "trino/catalog/clickhouse.properties.j2",
                        clickhouse={
                            "jdbc_url": clickhouse.jdbc_url,
                            "user": clickhouse.user,
                            "password": clickhouse.password,
                        },
                    ),
                )
            )
            uses.append(clickhouse)

        return self.service(
            "trino",
            ServiceArgs(
                spec=spec,
                # The image's own check: /v1/info answers and the server is no longer starting.
                lifecycle=Server(HealthCheck.command("/usr/lib/trino/bin/health-check", start_period="60s")),
                networks=[self.network],
                uses=uses,
                files=files,
                ports=[Port("trino", TRINO_PORT)],
                # Served by the coordinator without configuration; a scrape must send an X-Trino-User header.
                metrics=Metrics(TRINO_PORT, "/metrics", user="prometheus"),
            ),
        )

    def _dbt(self) -> Service:
        """The dbt job: `dbt build` (seeds, models, then their tests) against Trino, then it exits.

        Run it:      docker start -a datalyptica-dbt      (with the stack's prefix)
        `dbt debug`, with the very files the job has (a created container holds its uploads):
                     docker commit datalyptica-dbt datalyptica-dbt-debug
                     docker run --rm --network datalyptica-query datalyptica-dbt-debug \\
                         dbt debug --project-dir /usr/app/dbt --profiles-dir /etc/dbt
        """
        return self.service(
            "dbt",
            ServiceArgs(
                spec=self.spec("dbt"),
                lifecycle=OnDemandJob(),
                uses=[self.endpoint],
                command=["dbt", "build", "--project-dir", DBT_PROJECT_DIR, "--profiles-dir", DBT_PROFILES_DIR],
                files=[File(f"{DBT_PROFILES_DIR}/profiles.yml", dbt_profile()), *dbt_project_files()],
            ),
        )
