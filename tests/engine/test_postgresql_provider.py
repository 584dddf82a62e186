"""tests/engine/postgresql_provider.py (the stand-in for pulumi-postgresql 3.18.2) under the Pulumi
CLI built from Go modules, against a real, throwaway PostgreSQL on 127.0.0.1: the resources
components/storage.py declares are created, stay unchanged on a second update and on a refresh,
a changed password updates its role in place, a renamed database is renamed in place (upstream's
`name` is not ForceNew), a changed encoding replaces the database, and destroy removes it all.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.engine import postgresql_provider
from tests.engine.test_language_host import VENV_PYTHON, EngineCli, new_engine_cli, write_program
from tests.integration.pgcluster import LOCALHOST, POSTGRES_USER, find_pg_bin_dir, free_ports, wait_for
from tests.required_tools import missing_tool

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------- a throwaway PostgreSQL


@dataclass
class Postgres:
    port: int
    password: str

    def connect(self, *, user: str = "postgres", password: str | None = None, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host=LOCALHOST,
            port=self.port,
            user=user,
            password=password or self.password,
            dbname=dbname,
            connect_timeout=5,
            autocommit=True,
        )

    def one(self, statement: str, *params: Any, dbname: str = "postgres") -> Any:
        with self.connect(dbname=dbname) as connection:
            row = connection.execute(statement, params or None).fetchone()
        return row[0] if row else None

    def can_log_in(self, user: str, password: str, dbname: str) -> bool:
        import psycopg

        try:
            with self.connect(user=user, password=password, dbname=dbname):
                return True
        except psycopg.OperationalError:
            return False


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """Debian's PostgreSQL (.ci/install.d/20-pgha.sh) in a temporary folder, as the postgres user,
    password (SCRAM) logins over TCP on a free port of 127.0.0.1; stopped and removed afterwards."""
    bin_dir = find_pg_bin_dir()
    if bin_dir is None:
        missing_tool("no PostgreSQL server under /usr/lib/postgresql (run .ci/install.d/20-pgha.sh)")
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        missing_tool("no postgres user (run .ci/install.d/20-pgha.sh)")
    if os.geteuid() != 0:
        missing_tool("must run as root to start PostgreSQL as the postgres user")
    workdir = Path(tempfile.mkdtemp(prefix="pg-provider-"))
    workdir.chmod(0o755)
    # Always led by "-", which a command-line parser would take for an option (token_urlsafe
    # starts with one now and then; a secret passed on argv once failed CI that way).
    password = "-" + secrets.token_urlsafe(18)
    (workdir / "pwfile").write_text(password + "\n")
    shutil.chown(workdir, POSTGRES_USER, POSTGRES_USER)
    shutil.chown(workdir / "pwfile", POSTGRES_USER, POSTGRES_USER)
    as_postgres = {"user": POSTGRES_USER, "group": POSTGRES_USER, "extra_groups": []}
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir)}
    process = None
    try:
        subprocess.run(
            [
                f"{bin_dir}/initdb",
                *("-D", str(workdir / "data"), "-U", "postgres", f"--pwfile={workdir / 'pwfile'}"),
                *("-A", "scram-sha-256", "-E", "UTF8", "--locale=C"),
            ],
            check=True,
            capture_output=True,
            env=env,
            cwd=workdir,
            timeout=120,
            **as_postgres,
        )
        port = free_ports(1)[0]
        with open(workdir / "postgres.log", "ab") as log:
            process = subprocess.Popen(
                [
                    f"{bin_dir}/postgres",
                    *("-D", str(workdir / "data"), "-p", str(port), "-k", str(workdir)),
                    *("-c", f"listen_addresses={LOCALHOST}", "-c", "wal_level=logical"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=workdir,
                start_new_session=True,
                **as_postgres,
            )
        server = Postgres(port=port, password=password)

        def ready() -> bool:
            with contextlib.suppress(Exception), server.connect():
                return True
            return False

        wait_for(ready, timeout=60, what="the throwaway PostgreSQL to accept connections")
        yield server
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- the program


@pytest.fixture
def provider_cli(tmp_path: Path) -> Iterator[EngineCli]:
    """The built CLI with a PULUMI_HOME of its own where the stand-in is installed as postgresql
    3.18.2 (`pulumi plugin install --file`: a resource plugin beside the CLI is not found, it is
    not one of the CLI's bundled plugins)."""
    cli = new_engine_cli(tmp_path)
    bin_dir = tmp_path / "provider-bin"
    bin_dir.mkdir()
    wrapper = postgresql_provider.install(bin_dir, VENV_PYTHON)
    cli.run("plugin", "install", "resource", "postgresql", "3.18.2", "--file", str(wrapper), cwd=tmp_path)
    listed = json.loads(cli.run("plugin", "ls", "--json", cwd=tmp_path).stdout)
    assert [(p["name"], p["kind"], p["version"]) for p in listed] == [("postgresql", "resource", "3.18.2")]
    yield cli
    print(cli.report_timings("timings"))


# The resources components/storage.py declares for a consumer's database and its change capture
# (StorageLayer.database and .replication_role), through an explicit provider as the program has.
PROGRAM = """\
    import pulumi
    import pulumi_postgresql as postgresql

    config = pulumi.Config()
    provider = postgresql.Provider(
        "postgres-admin",
        host="127.0.0.1",
        port=config.require_int("port"),
        username="postgres",
        password=config.require_secret("superuserPassword"),
        sslmode="disable",
        superuser=True,
        connect_timeout=10,
    )
    options = pulumi.ResourceOptions(provider=provider)

    role = postgresql.Role(
        "app-db-role", name="app", login=True, password=config.require_secret("appPassword"), opts=options
    )
    created = postgresql.Database("app-database", name="app", owner=role.name, opts=options)
    no_public_access = postgresql.Grant(
        "app-database-revoke-public", database=created.name, role="public", object_type="database", privileges=[],
        opts=options,
    )
    in_database = pulumi.ResourceOptions.merge(
        options, pulumi.ResourceOptions(depends_on=[role, created, no_public_access])
    )
    reader = postgresql.Role(
        "cdc-replication-role", name="cdc", login=True, replication=True,
        password=config.require_secret("cdcPassword"), opts=options,
    )
    connect = postgresql.Grant(
        "cdc-connect", database="app", role=reader.name, object_type="database", privileges=["CONNECT"],
        opts=in_database,
    )
    read_tables = postgresql.Grant(
        "cdc-read-tables", database="app", schema="public", role=reader.name, object_type="table", objects=[],
        privileges=["SELECT"], opts=in_database,
    )
    read_future_tables = postgresql.DefaultPrivileges(
        "cdc-read-future-tables", database="app", schema="public", owner="app", role=reader.name,
        object_type="table", privileges=["SELECT"], opts=in_database,
    )
    publication = postgresql.Publication(
        "cdc-publication", name="app_changes", database="app", all_tables=True, opts=in_database
    )
    scratch = postgresql.Database(
        "scratch-database",
        name=config.get("scratchName") or "scratch",
        owner=role.name,
        encoding=config.get("scratchEncoding"),
        opts=pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(delete_before_replace=True)),
    )
    pulumi.export("roleId", role.id)
    pulumi.export("databaseId", created.id)
    pulumi.export("grantId", no_public_access.id)
    pulumi.export("defaultPrivilegesId", read_future_tables.id)
    pulumi.export("publicationId", publication.id)
    pulumi.export("scratch", scratch.name)
    pulumi.export("rolePassword", role.password)
"""
RESOURCES = 11  # the stack, the provider, 2 roles, 2 databases, 3 grants, default privileges, publication


def summary(output: str) -> str:
    return output[output.rfind("Resources:") :]


def test_the_storage_layers_postgresql_resources_live_through_up_refresh_update_replace_and_destroy(
    provider_cli: EngineCli, postgres: Postgres, tmp_path: Path
):
    cli = provider_cli
    program = write_program(tmp_path / "pg", PROGRAM, name="pg")
    cli.run("stack", "init", "dev", cwd=program)
    cli.run("config", "set", "port", str(postgres.port), cwd=program)
    cli.set_secret("superuserPassword", postgres.password, cwd=program)
    cli.set_secret("appPassword", "first-app-password", cwd=program)
    cli.set_secret("cdcPassword", "cdc-password", cwd=program)

    # up creates them, as PostgreSQL then shows.
    up = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert f"+ {RESOURCES} created" in summary(up.stdout), up.stdout
    outputs = cli.outputs(program)
    assert outputs["roleId"] == "app"
    assert outputs["databaseId"] == "app"
    assert outputs["grantId"] == "public_app_database"
    assert outputs["defaultPrivilegesId"] == "cdc_app_public_app_table"
    assert outputs["publicationId"] == "app.app_changes"
    assert outputs["rolePassword"] == "first-app-password"
    assert postgres.can_log_in("app", "first-app-password", "app")
    assert postgres.one("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'") == "app"
    assert postgres.one("SELECT encoding FROM pg_database WHERE datname = 'scratch'") == 6  # UTF8
    # REVOKE ALL ON DATABASE app FROM PUBLIC: no entry for PUBLIC left in its ACL
    assert not postgres.one(
        "SELECT count(*) FROM pg_database, aclexplode(datacl) WHERE datname = 'app' AND grantee = 0"
    )
    assert postgres.one("SELECT has_database_privilege('cdc', 'app', 'CONNECT')")
    assert postgres.one("SELECT rolreplication FROM pg_roles WHERE rolname = 'cdc'")
    assert postgres.one("SELECT puballtables FROM pg_publication WHERE pubname = 'app_changes'", dbname="app")
    # The default privileges: a table the owner creates later is readable by the capture role.
    with postgres.connect(user="app", password="first-app-password", dbname="app") as connection:
        connection.execute("CREATE TABLE later (id int)")
    with postgres.connect(user="cdc", password="cdc-password", dbname="app") as connection:
        assert connection.execute("SELECT count(*) FROM later").fetchone() == (0,)

    # The state keeps every password as ciphertext.
    state = json.dumps(cli.export(program))
    for password in ("first-app-password", "cdc-password", postgres.password):
        assert password not in state
    role_state = next(
        r for r in cli.export(program)["deployment"]["resources"] if r["urn"].endswith("Role::app-db-role")
    )
    assert "ciphertext" in role_state["outputs"]["password"]

    # Nothing changed: a second up, a preview and a refresh all find nothing to do.
    second = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert f"{RESOURCES} unchanged" in summary(second.stdout), second.stdout
    cli.run("preview", "--expect-no-changes", cwd=program)
    refreshed = cli.run("refresh", "--yes", "--skip-preview", cwd=program)
    assert f"{RESOURCES} unchanged" in summary(refreshed.stdout), refreshed.stdout
    cli.run("preview", "--expect-no-changes", cwd=program)

    # A new password: the role is updated in place (ALTER ROLE ... PASSWORD), nothing else.
    cli.set_secret("appPassword", "second-app-password", cwd=program)
    changed = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert "~ 1 updated" in summary(changed.stdout) and f"{RESOURCES - 1} unchanged" in summary(changed.stdout), (
        changed.stdout
    )
    assert postgres.can_log_in("app", "second-app-password", "app")
    assert not postgres.can_log_in("app", "first-app-password", "app")
    cli.run("preview", "--expect-no-changes", cwd=program)

    # A new database name: upstream's `name` is not ForceNew, so the database is renamed in place.
    oid = postgres.one("SELECT oid FROM pg_database WHERE datname = 'scratch'")
    cli.run("config", "set", "scratchName", "scratch_renamed", cwd=program)
    renamed = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert "~ 1 updated" in summary(renamed.stdout), renamed.stdout
    assert postgres.one("SELECT oid FROM pg_database WHERE datname = 'scratch_renamed'") == oid
    assert postgres.one("SELECT count(*) FROM pg_database WHERE datname = 'scratch'") == 0

    # A new encoding (ForceNew): the database is replaced, deleted first as its options ask.
    cli.run("config", "set", "scratchEncoding", "SQL_ASCII", cwd=program)
    replaced = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert "+-1 replaced" in summary(replaced.stdout), replaced.stdout
    new_oid = postgres.one("SELECT oid FROM pg_database WHERE datname = 'scratch_renamed'")
    assert new_oid is not None and new_oid != oid
    assert postgres.one("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'scratch_renamed'") == (
        "SQL_ASCII"
    )
    cli.run("preview", "--expect-no-changes", cwd=program)

    # destroy: DROP PUBLICATION, the revokes, DROP DATABASE, REASSIGN/DROP OWNED and DROP ROLE.
    destroyed = cli.run("destroy", "--yes", "--skip-preview", cwd=program)
    assert f"- {RESOURCES} deleted" in summary(destroyed.stdout), destroyed.stdout
    assert postgres.one("SELECT count(*) FROM pg_roles WHERE rolname IN ('app', 'cdc')") == 0
    assert postgres.one("SELECT count(*) FROM pg_database WHERE datname IN ('app', 'scratch_renamed')") == 0
    assert postgres.one("SELECT count(*) FROM pg_auth_members WHERE pg_get_userbyid(member) = 'postgres'") == 0


def test_a_missing_role_is_dropped_from_the_state_by_refresh(provider_cli: EngineCli, postgres: Postgres, tmp_path):
    """Read answers an empty id for an object PostgreSQL no longer has (upstream: d.SetId(""))."""
    cli = provider_cli
    program = write_program(
        tmp_path / "gone",
        """\
        import pulumi
        import pulumi_postgresql as postgresql

        config = pulumi.Config()
        provider = postgresql.Provider(
            "pg", host="127.0.0.1", port=config.require_int("port"), username="postgres",
            password=config.require_secret("superuserPassword"), sslmode="disable",
        )
        postgresql.Role("doomed", name="doomed", opts=pulumi.ResourceOptions(provider=provider))
        """,
        name="gone",
    )
    cli.run("stack", "init", "dev", cwd=program)
    cli.run("config", "set", "port", str(postgres.port), cwd=program)
    cli.set_secret("superuserPassword", postgres.password, cwd=program)
    cli.run("up", "--yes", "--skip-preview", cwd=program)
    with postgres.connect() as connection:
        connection.execute("DROP ROLE doomed")
    refreshed = cli.run("refresh", "--yes", "--skip-preview", cwd=program)
    assert "- 1 deleted" in summary(refreshed.stdout), refreshed.stdout
    up = cli.run("up", "--yes", "--skip-preview", cwd=program)
    assert "+ 1 created" in summary(up.stdout), up.stdout
    assert postgres.one("SELECT count(*) FROM pg_roles WHERE rolname = 'doomed'") == 1
    cli.run("destroy", "--yes", "--skip-preview", cwd=program)
