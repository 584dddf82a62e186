"""A stand-in for the pulumi-postgresql resource provider (3.18.2), written in Python for the tests.

The real provider is cyrilgdn/terraform-provider-postgresql (commit ff936b9, v1.26.0+3) bridged by
pulumi-terraform-bridge; neither can be built here (the Go module proxy refuses the upstream
module). This serves pulumirpc.ResourceProvider for exactly the resources the program uses
(components/storage.py): Role, Database, Grant, DefaultPrivileges and Publication, with the
upstream schema's attributes (as the Python SDK names them), defaults, ForceNew fields and the SQL
of postgresql/resource_postgresql_{role,database,grant,default_privileges,publication}.go and
helpers.go. POSTGRESQL_PROVIDER.md beside this file is its contract: what it does, from which
upstream code, and what it does not.

Install it with install(bin_dir, venv_python) (a wrapper script named pulumi-resource-postgresql
that runs this file with a python that has grpcio, pulumi and psycopg), then
`pulumi plugin install resource postgresql 3.18.2 --file <that wrapper>`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import grpc  # type: ignore[import-untyped]  # grpcio ships no type stubs; types-grpcio is no dependency here
import psycopg
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

VERSION = "3.18.2"
PLUGIN_NAME = "pulumi-resource-postgresql"
PACKAGE = "postgresql"
GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024), ("grpc.max_send_message_length", -1)]

# Pulumi's wire encodings, as the SDK spells them (sdk/go/common/resource/plugin/rpc.go).
SECRET_SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig
UNKNOWN = rpc.UNKNOWN


def install(bin_dir: Path, venv_python: Path) -> Path:
    """Write `bin_dir/pulumi-resource-postgresql`, a wrapper that runs this provider with
    `venv_python` (which needs grpcio, pulumi and psycopg). Install it into a PULUMI_HOME with
    `pulumi plugin install resource postgresql 3.18.2 --file <the wrapper>`."""
    wrapper = bin_dir / PLUGIN_NAME
    wrapper.write_text(f"#!/bin/sh\nexec '{Path(venv_python).absolute()}' '{Path(__file__).resolve()}' \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


# ----------------------------------------------------------------------------- property values


@dataclass(frozen=True)
class Secret:
    value: Any


def _each_item(value: Any, transform: Callable[[Any], Any]) -> Any:
    """`value` with `transform` applied to every item of a dict, list or tuple (a tuple comes back a
    list); any other value as it is."""
    if isinstance(value, dict):
        return {key: transform(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [transform(item) for item in value]
    return value


def decode(value: Any) -> Any:
    """A value from a protobuf Struct (as json_format gives it) with secrets as Secret."""
    if isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG:
        return Secret(decode(value.get("value")))
    return _each_item(value, decode)


def encode(value: Any) -> Any:
    if isinstance(value, Secret):
        return {SECRET_SIG_KEY: SECRET_SIG, "value": encode(value.value)}
    return _each_item(value, encode)


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    decoded = decode(json_format.MessageToDict(struct))
    return decoded if isinstance(decoded, dict) else {}


def to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(encode(values))
    return struct


def reveal(value: Any) -> Any:
    """`value` with every secret unwrapped."""
    if isinstance(value, Secret):
        return reveal(value.value)
    return _each_item(value, reveal)


def is_unknown(value: Any) -> bool:
    if isinstance(value, Secret):
        return is_unknown(value.value)
    if isinstance(value, list):
        return any(is_unknown(item) for item in value)
    return bool(value == UNKNOWN)


# ----------------------------------------------------------------------------- the upstream schema


@dataclass(frozen=True)
class Attr:
    """One attribute of an upstream schema.Resource, under the name the Pulumi SDK gives it."""

    kind: str  # string | int | bool | set | list
    required: bool = False
    computed: bool = False
    force_new: bool = False
    default: Any = None
    sensitive: bool = False
    write_only: bool = False
    allowed: tuple[str, ...] = ()
    at_least: int | None = None


@dataclass(frozen=True)
class Resource:
    token: str
    attrs: dict[str, Attr]
    autonamed: bool = False  # prov.SetAutonaming(255, "-") in pulumi-postgresql's resources.go: `name`
    delete_before_replace: bool = False


GRANT_OBJECT_TYPES = (
    "database",
    "function",
    "procedure",
    "routine",
    "schema",
    "sequence",
    "table",
    "foreign_data_wrapper",
    "foreign_server",
    "column",
)

ROLE = Resource(
    "postgresql:index/role:Role",
    {
        "name": Attr("string", required=True),
        "password": Attr("string", sensitive=True),
        "passwordWo": Attr("string", sensitive=True, write_only=True),
        "passwordWoVersion": Attr("string"),
        "encrypted": Attr("string"),  # deprecated upstream
        "roles": Attr("set"),
        "searchPaths": Attr("list"),
        "encryptedPassword": Attr("bool", default=True),
        "validUntil": Attr("string", default="infinity"),
        "connectionLimit": Attr("int", default=-1, at_least=-1),
        "superuser": Attr("bool", default=False),
        "createDatabase": Attr("bool", default=False),
        "createRole": Attr("bool", default=False),
        "idleInTransactionSessionTimeout": Attr("int", at_least=0),
        "inherit": Attr("bool", default=True),
        "login": Attr("bool", default=False),
        "replication": Attr("bool", default=False),
        "bypassRowLevelSecurity": Attr("bool", default=False),
        "skipDropRole": Attr("bool", default=False),
        "skipReassignOwned": Attr("bool", default=False),
        "statementTimeout": Attr("int", at_least=0),
        "assumeRole": Attr("string"),
    },
    autonamed=True,
)

DATABASE = Resource(
    "postgresql:index/database:Database",
    {
        "name": Attr("string", required=True),
        "owner": Attr("string", computed=True),
        "template": Attr("string", computed=True, force_new=True),
        "encoding": Attr("string", computed=True, force_new=True),
        "lcCollate": Attr("string", computed=True, force_new=True),
        "lcCtype": Attr("string", computed=True, force_new=True),
        "tablespaceName": Attr("string", computed=True),
        "connectionLimit": Attr("int", default=-1, at_least=-1),
        "allowConnections": Attr("bool", default=True),
        "isTemplate": Attr("bool", computed=True),
        "alterObjectOwnership": Attr("bool", default=False),
    },
    autonamed=True,
)

GRANT = Resource(
    "postgresql:index/grant:Grant",
    {
        "role": Attr("string", required=True, force_new=True),
        "database": Attr("string", required=True, force_new=True),
        "schema": Attr("string", force_new=True),
        "objectType": Attr("string", required=True, force_new=True, allowed=GRANT_OBJECT_TYPES),
        "objects": Attr("set", force_new=True),
        "columns": Attr("set", force_new=True),
        "privileges": Attr("set", required=True),
        "withGrantOption": Attr("bool", force_new=True, default=False),
    },
    delete_before_replace=True,  # pulumi-postgresql's resources.go: postgresql_grant DeleteBeforeReplace
)

DEFAULT_PRIVILEGES = Resource(
    "postgresql:index/defaultPrivileges:DefaultPrivileges",
    {
        "role": Attr("string", required=True, force_new=True),
        "database": Attr("string", required=True, force_new=True),
        "owner": Attr("string", required=True, force_new=True),
        "schema": Attr("string", force_new=True),
        "objectType": Attr(
            "string",
            required=True,
            force_new=True,
            allowed=("table", "sequence", "function", "routine", "type", "schema"),
        ),
        "privileges": Attr("set", required=True),
        "withGrantOption": Attr("bool", force_new=True, default=False),
    },
)

PUBLICATION = Resource(
    "postgresql:index/publication:Publication",
    {
        "name": Attr("string", required=True),
        "database": Attr("string", computed=True, force_new=True),
        "owner": Attr("string", computed=True),
        "tables": Attr("set", computed=True),
        "allTables": Attr("bool", computed=True, force_new=True),
        "publishParams": Attr("list", computed=True),
        "publishViaPartitionRootParam": Attr("bool"),
        "dropCascade": Attr("bool", default=False),
    },
    autonamed=True,
)

RESOURCES = {resource.token: resource for resource in (ROLE, DATABASE, GRANT, DEFAULT_PRIVILEGES, PUBLICATION)}

# The provider's own configuration (provider.go's Schema, pulumi-postgresql's Config overrides).
CONFIG_ATTRS: dict[str, Attr] = {
    "scheme": Attr("string", default="postgres", allowed=("postgres", "awspostgres", "gcppostgres")),
    "host": Attr("string"),
    "port": Attr("int"),
    "database": Attr("string"),
    "username": Attr("string"),
    "password": Attr("string", sensitive=True),
    "databaseUsername": Attr("string"),
    "superuser": Attr("bool"),
    "sslmode": Attr("string"),
    "sslMode": Attr("string"),
    "sslrootcert": Attr("string"),
    "connectTimeout": Attr("int", at_least=-1),
    "maxConnections": Attr("int", default=20, at_least=-1),
    "expectedVersion": Attr("string", default="9.0.0"),
    "awsRdsIamAuth": Attr("bool"),
    "azureIdentityAuth": Attr("bool"),
    "gcpIamImpersonateServiceAccount": Attr("string"),
}


def zero(attr: Attr) -> Any:
    return {"string": "", "int": 0, "bool": False, "set": [], "list": []}[attr.kind]


def normalised(attr: Attr, value: Any) -> Any:
    """A plain value as the Terraform SDK compares it: null is the type's zero value, sets unordered."""
    value = reveal(value)
    if value is None:
        return zero(attr)
    if attr.kind == "int" and isinstance(value, float | int | str):
        return int(float(value))
    if attr.kind == "set" and isinstance(value, list):
        return sorted({str(item) for item in value})
    return value


def typed(attr: Attr, value: Any) -> Any:
    """A config value, which the SDK sends as a JSON string for non-string types."""
    value = reveal(value)
    if value is None or is_unknown(value):
        return value
    if attr.kind == "int":
        return int(float(value))
    if attr.kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
    return value


# ----------------------------------------------------------------------------- connections


@dataclass
class Config:
    """providerConfigure (provider.go) and Config (config.go)."""

    host: str
    port: int
    username: str
    password: str
    database: str
    database_username: str
    superuser: bool
    sslmode: str
    connect_timeout: int
    sslrootcert: str = ""

    @classmethod
    def from_inputs(cls, values: dict[str, Any]) -> Config:
        get: Callable[[str], Any] = lambda key: typed(CONFIG_ATTRS[key], values.get(key))  # noqa: E731
        for unsupported in ("awsRdsIamAuth", "azureIdentityAuth"):
            if get(unsupported):
                raise ProviderError(f"{unsupported} is not supported by this test stand-in")
        if (get("scheme") or "postgres") != "postgres":
            raise ProviderError("only the postgres scheme is supported by this test stand-in")
        env = os.environ.get
        superuser = get("superuser")
        timeout = get("connectTimeout")
        return cls(
            host=get("host") or env("PGHOST") or "",
            port=get("port") or int(env("PGPORT") or 5432),
            username=get("username") or env("PGUSER") or "postgres",
            password=get("password") or env("PGPASSWORD") or "",
            database=get("database") or env("PGDATABASE") or "postgres",
            database_username=get("databaseUsername") or "",
            superuser=superuser if superuser is not None else (env("PGSUPERUSER") or "true").lower() == "true",
            sslmode=get("sslmode") or env("PGSSLMODE") or get("sslMode") or "",
            # pulumi-postgresql's resources.go: connect_timeout defaults to PGCONNECT_TIMEOUT, else 180
            connect_timeout=timeout if timeout is not None else int(env("PGCONNECT_TIMEOUT") or 180),
            sslrootcert=get("sslrootcert") or "",
        )

    @property
    def database_user(self) -> str:
        """getDatabaseUsername: the role name inside PostgreSQL."""
        return self.database_username or self.username

    def connect(self, database: str | None = None) -> psycopg.Connection[Any]:
        """A connection to `database` (the provider's database by default), autocommit; use
        `transaction(...)` where upstream opens a transaction."""
        options: dict[str, Any] = {
            "host": self.host or None,
            "port": self.port,
            "user": self.username,
            "password": self.password or None,
            "dbname": database or self.database,
            # lib/pq (upstream's driver) treats an empty sslmode as "require"
            "sslmode": self.sslmode or "require",
            "fallback_application_name": "Terraform provider",
            "autocommit": True,
        }
        if self.connect_timeout > 0:
            options["connect_timeout"] = self.connect_timeout
        if self.sslrootcert:
            options["sslrootcert"] = self.sslrootcert
        try:
            return psycopg.connect(**options)
        except psycopg.Error as error:
            raise ProviderError(f"error connecting to PostgreSQL server {self.host}: {error}") from error


class ProviderError(Exception):
    pass


@contextlib.contextmanager
def transaction(connection: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """startTransaction + deferredRollback: commit on success, roll back otherwise."""
    with connection.transaction():
        yield connection


def ident(name: str) -> str:
    """pq.QuoteIdentifier."""
    end = name.find("\x00")
    if end >= 0:
        name = name[:end]
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """pqQuoteLiteral (helpers.go), to be wrapped in single quotes like upstream does."""
    return value.replace("\\", "\\\\").replace("'", "''")


def execute(connection: psycopg.Connection[Any], statement: str, params: tuple[Any, ...] = ()) -> None:
    connection.execute(statement.encode(), params or None)  # bytes: the SQL is upstream's, not a psycopg template


def query_one(
    connection: psycopg.Connection[Any], statement: str, params: tuple[Any, ...] = ()
) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = connection.execute(statement.encode(), params or None).fetchone()
    return row


def query_all(
    connection: psycopg.Connection[Any], statement: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    return list(connection.execute(statement.encode(), params or None).fetchall())


Feature = Literal[
    "rls", "replication", "force_drop_database", "publish_via_root", "publication_truncate", "maintain_privilege"
]
FIRST_VERSION_WITH: dict[Feature, int] = {
    "rls": 90500,
    "replication": 90100,
    "force_drop_database": 130000,
    "publish_via_root": 130000,
    "publication_truncate": 110000,
    "maintain_privilege": 170000,
}


@dataclass
class Server:
    """The server's version gates upstream's feature flags (config.go featureSupported)."""

    version_num: int

    @classmethod
    def of(cls, connection: psycopg.Connection[Any]) -> Server:
        row = query_one(connection, "SHOW server_version_num")
        return cls(int(row[0]) if row else 90000)

    def supports(self, feature: Feature) -> bool:
        return self.version_num >= FIRST_VERSION_WITH[feature]


# ----------------------------------------------------------------------------- helpers.go


ALLOWED_PRIVILEGES = {
    "database": ["ALL", "CREATE", "CONNECT", "TEMPORARY"],
    "table": ["ALL", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
    "sequence": ["ALL", "USAGE", "SELECT", "UPDATE"],
    "schema": ["ALL", "CREATE", "USAGE"],
    "function": ["ALL", "EXECUTE"],
    "procedure": ["ALL", "EXECUTE"],
    "routine": ["ALL", "EXECUTE"],
    "type": ["ALL", "USAGE"],
    "foreign_data_wrapper": ["ALL", "USAGE"],
    "foreign_server": ["ALL", "USAGE"],
    "column": ["ALL", "SELECT", "INSERT", "UPDATE", "REFERENCES"],
}
# objectTypes (resource_postgresql_grant.go): pg_class.relkind / pg_default_acl.defaclobjtype
OBJECT_TYPE_CODES = {"table": "r", "sequence": "S", "function": "f", "routine": "f", "type": "T", "schema": "n"}
PUBLIC_ROLE = "public"


def allowed_privileges(object_type: str, server: Server) -> list[str]:
    allowed = list(ALLOWED_PRIVILEGES.get(object_type, []))
    if object_type == "table" and server.supports("maintain_privilege"):
        allowed.append("MAINTAIN")
    return allowed


def validate_privileges(object_type: str, privileges: list[str], server: Server) -> None:
    allowed = allowed_privileges(object_type, server)
    if not allowed:
        raise ProviderError(f"unknown object type {object_type}")
    for privilege in privileges:
        if privilege not in allowed:
            raise ProviderError(f"{privilege} is not an allowed privilege for object type {object_type}")


def privileges_equal(granted: list[str], wanted: list[str], object_type: str, server: Server) -> bool:
    """resourcePrivilegesEqual: also ALL against its implicit privileges."""
    if set(granted) == set(wanted):
        return True
    if "ALL" not in wanted:
        return False
    return set(granted) == {p for p in allowed_privileges(object_type, server) if p != "ALL"}


def lock_role(connection: psycopg.Connection[Any], role: str) -> None:
    """pgLockRole: advisory locks on the role and its members, inside the current transaction."""
    execute(connection, "SET statement_timeout = 0")
    execute(connection, "SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_roles WHERE rolname = %s", (role,))
    execute(
        connection,
        "SELECT pg_advisory_xact_lock(member::bigint) FROM pg_auth_members JOIN pg_roles ON roleid = pg_roles.oid "
        "WHERE rolname = %s",
        (role,),
    )


def lock_database(connection: psycopg.Connection[Any], database: str) -> None:
    execute(connection, "SET statement_timeout = 0")
    execute(connection, "SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_database WHERE datname = %s", (database,))


def is_member_of_role(connection: psycopg.Connection[Any], role: str, member: str) -> bool:
    has_set_option = query_one(
        connection,
        "SELECT 1 FROM information_schema.columns WHERE table_name='pg_auth_members' AND column_name = 'set_option'",
    )
    statement = "SELECT 1 FROM pg_auth_members WHERE pg_get_userbyid(roleid) = %s AND pg_get_userbyid(member) = %s"
    if has_set_option:
        statement += " AND set_option"
    return query_one(connection, statement, (role, member)) is not None


def grant_role_membership(connection: psycopg.Connection[Any], role: str, member: str) -> bool:
    if member == role or is_member_of_role(connection, role, member):
        return False
    execute(connection, f"GRANT {ident(role)} TO {ident(member)}")
    return True


def revoke_role_membership(connection: psycopg.Connection[Any], role: str, member: str) -> bool:
    if member == role or not is_member_of_role(connection, role, member):
        return False
    execute(connection, f"REVOKE {ident(role)} FROM {ident(member)}")
    return True


def current_user(connection: psycopg.Connection[Any]) -> str:
    row = query_one(connection, "SELECT CURRENT_USER")
    return str(row[0]) if row else ""


def is_superuser(connection: psycopg.Connection[Any], role: str) -> bool:
    row = query_one(connection, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,))
    if row is None:
        raise ProviderError(f"could not check if role {role} is superuser")
    return bool(row[0])


def role_exists(connection: psycopg.Connection[Any], role: str) -> bool:
    return query_one(connection, "SELECT 1 FROM pg_roles WHERE rolname=%s", (role,)) is not None


def database_exists(connection: psycopg.Connection[Any], database: str) -> bool:
    return query_one(connection, "SELECT datname FROM pg_database WHERE datname=%s", (database,)) is not None


def schema_exists(connection: psycopg.Connection[Any], schema: str) -> bool:
    return query_one(connection, "SELECT 1 FROM pg_namespace WHERE nspname=%s", (schema,)) is not None


def role_oid(connection: psycopg.Connection[Any], role: str) -> int:
    if role == PUBLIC_ROLE:
        return 0
    row = query_one(connection, "SELECT oid FROM pg_roles WHERE rolname = %s", (role,))
    if row is None:
        raise ProviderError(f"could not find oid for role {role}")
    return int(row[0])


def with_roles_granted(connection: psycopg.Connection[Any], roles: list[str], body: Callable[[], None]) -> None:
    """withRolesGranted: a non-superuser is made a member of `roles` for the time of `body`."""
    if not roles:
        body()
        return
    user = current_user(connection)
    if is_superuser(connection, user):
        body()
        return
    granted, revoked = [], []
    for role in roles:
        if is_superuser(connection, role):
            continue
        if revoke_role_membership(connection, user, role):
            revoked.append(role)
        if grant_role_membership(connection, role, user):
            granted.append(role)
    body()
    for role in granted:
        revoke_role_membership(connection, role, user)
    for role in revoked:
        if role_exists(connection, role):
            grant_role_membership(connection, user, role)


def database_owner(connection: psycopg.Connection[Any], database: str) -> str:
    where = "%s" if database else "current_database()"
    row = query_one(
        connection,
        f"SELECT rolname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid WHERE datname = {where}",
        (database,) if database else (),
    )
    if row is None:
        raise ProviderError(f"could not find database '{database}' while looking for owner")
    return str(row[0])


def roles_to_grant(connection: psycopg.Connection[Any], object_type: str, schema: str) -> list[str]:
    """getRolesToGrant: owners of the schema and its tables, so a non-superuser may change them."""
    if object_type in ("database", "foreign_data_wrapper", "foreign_server"):
        return []
    owners: list[str] = []
    if object_type != "schema":
        rows = query_all(connection, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", (schema,))
        owners = [str(row[0]) for row in rows]
    row = query_one(
        connection,
        "SELECT rolname FROM pg_namespace JOIN pg_roles ON nspowner = pg_roles.oid WHERE nspname = %s",
        (schema,),
    )
    if row is None:
        raise ProviderError(f"could not find schema '{schema}' while looking for owner")
    if str(row[0]) not in owners:
        owners.append(str(row[0]))
    return [database_owner(connection, "") if owner == "pg_database_owner" else owner for owner in owners]


# ----------------------------------------------------------------------------- resources


@dataclass
class Change:
    """What a handler gets: the resource's new values (config with defaults, plain), the old state
    (plain, empty on create) and which attributes changed (Terraform's d.HasChange)."""

    new: dict[str, Any]
    old: dict[str, Any] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)

    def get(self, key: str) -> Any:
        return self.new.get(key)

    def text(self, key: str) -> str:
        value = self.new.get(key)
        return "" if value is None else str(value)

    def flag(self, key: str) -> bool:
        return bool(self.new.get(key))

    def number(self, key: str) -> int:
        value = self.new.get(key)
        return 0 if value is None else int(value)

    def items(self, key: str) -> list[str]:
        value = self.new.get(key)
        return [str(item) for item in value] if isinstance(value, list) else []

    def previous(self, key: str) -> Any:
        """d.GetChange's old value where the attribute changed, else the new one (usePrevious)."""
        return self.old.get(key) if key in self.changed else self.new.get(key)


class Handler:
    resource: Resource

    def __init__(self, config: Config) -> None:
        self.config = config

    def create(self, change: Change) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def read(self, resource_id: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The state as PostgreSQL has it, or None when the object is gone (d.SetId(""))."""
        raise NotImplementedError

    def update(self, resource_id: str, change: Change) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def delete(self, resource_id: str, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def outputs(self, state: dict[str, Any]) -> dict[str, Any]:
        """Every attribute of the schema, as the bridge writes a resource's outputs."""
        return {key: state.get(key) for key in self.resource.attrs if not self.resource.attrs[key].write_only}

    def read_back(self, resource_id: str, state: dict[str, Any], what: str) -> tuple[str, dict[str, Any]]:
        found = self.read(resource_id, state)
        if found is None:
            raise ProviderError(f"{what} {resource_id} was not found right after it was written")
        return found


class RoleHandler(Handler):
    """resource_postgresql_role.go"""

    resource = ROLE

    def create(self, change: Change) -> tuple[str, dict[str, Any]]:
        name = change.text("name")
        options: list[str] = []
        password = change.text("password") or change.text("passwordWo")
        if password:
            if password.upper() == "NULL":
                options.append("PASSWORD NULL")
            else:
                options.append("ENCRYPTED" if change.flag("encryptedPassword") else "UNENCRYPTED")
                options.append(f"PASSWORD '{literal(password)}'")
        valid_until = change.text("validUntil")
        if valid_until:
            quoted = "infinity" if valid_until.lower() == "infinity" else literal(valid_until)
            options.append(f"VALID UNTIL '{quoted}'")
        options.append(f"CONNECTION LIMIT {change.number('connectionLimit')}")
        flags = [
            ("superuser", "SUPERUSER", "NOSUPERUSER"),
            ("createDatabase", "CREATEDB", "NOCREATEDB"),
            ("createRole", "CREATEROLE", "NOCREATEROLE"),
            ("inherit", "INHERIT", "NOINHERIT"),
            ("login", "LOGIN", "NOLOGIN"),
        ]
        with self.config.connect() as connection:
            server = Server.of(connection)
            if server.supports("rls"):
                flags.append(("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"))
            if server.supports("replication"):
                flags.append(("replication", "REPLICATION", "NOREPLICATION"))
            options += [on if change.flag(key) else off for key, on, off in flags]
            with transaction(connection):
                execute(connection, f"CREATE ROLE {ident(name)} WITH {' '.join(options)}")
                self._memberships_and_settings(connection, change, creating=True)
        return self.read_back(name, change.new, "role")

    def _memberships_and_settings(self, connection: psycopg.Connection[Any], change: Change, *, creating: bool) -> None:
        """What create and update both end with: the role's memberships, search path and settings."""
        self._grant_roles(connection, change)
        self._alter_search_path(connection, change)
        self._role_settings(connection, change, creating=creating)

    def _grant_roles(self, connection: psycopg.Connection[Any], change: Change) -> None:
        for member_of in change.items("roles"):
            execute(connection, f"GRANT {ident(member_of)} TO {ident(change.text('name'))}")

    def _alter_search_path(self, connection: psycopg.Connection[Any], change: Change) -> None:
        parts = change.items("searchPaths")
        for part in parts:
            if ", " in part:
                raise ProviderError(f"search_path cannot contain `, `: {part}")
        search_path = ", ".join(ident(part) for part in parts) if parts else "DEFAULT"
        execute(connection, f"ALTER ROLE {ident(change.text('name'))} SET search_path TO {search_path}")

    def _role_settings(self, connection: psycopg.Connection[Any], change: Change, *, creating: bool) -> None:
        """setStatementTimeout, setIdleInTransactionSessionTimeout, setAssumeRole (each only on a change)."""
        name = ident(change.text("name"))

        def changed(key: str) -> bool:
            if creating:  # HasChange against an empty state: only a non-zero value is a change
                return bool(change.get(key))
            return key in change.changed

        for key, setting in (
            ("statementTimeout", "statement_timeout"),
            ("idleInTransactionSessionTimeout", "idle_in_transaction_session_timeout"),
        ):
            if changed(key):
                value = change.number(key)
                statement = f"SET {setting} TO {value}" if value else f"RESET {setting}"
                execute(connection, f"ALTER ROLE {name} {statement}")
        if changed("assumeRole"):
            assume = change.text("assumeRole")
            execute(
                connection,
                f"ALTER ROLE {name} SET ROLE TO {ident(assume)}" if assume else f"ALTER ROLE {name} RESET ROLE",
            )

    def read(self, resource_id: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        with self.config.connect() as connection:
            server = Server.of(connection)
            columns = [
                "rolname",
                "rolsuper",
                "rolinherit",
                "rolcreaterole",
                "rolcreatedb",
                "rolcanlogin",
                "rolconnlimit",
                "COALESCE(rolvaliduntil::TEXT, 'infinity')",
                "rolconfig",
            ]
            if server.supports("replication"):
                columns.append("rolreplication")
            if server.supports("rls"):
                columns.append("rolbypassrls")
            row = query_one(
                connection,
                "SELECT ARRAY(SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members members "
                f"WHERE member = pg_roles.oid), {', '.join(columns)} FROM pg_catalog.pg_roles WHERE rolname=%s",
                (resource_id,),
            )
            if row is None:
                return None
            member_of, name, superuser, inherit, create_role, create_db, login, conn_limit, valid_until, config = row[
                :10
            ]
            extra = list(row[10:])
            replication = bool(extra.pop(0)) if server.supports("replication") else False
            bypass_rls = bool(extra.pop(0)) if server.supports("rls") else False
            settings = [str(item) for item in (config or [])]
            new = dict(state)
            new.update(
                name=name,
                connectionLimit=int(conn_limit),
                createDatabase=bool(create_db),
                createRole=bool(create_role),
                encryptedPassword=True,
                inherit=bool(inherit),
                login=bool(login),
                skipDropRole=bool(state.get("skipDropRole")),
                skipReassignOwned=bool(state.get("skipReassignOwned")),
                superuser=bool(superuser),
                validUntil=str(valid_until),
                replication=replication,
                bypassRowLevelSecurity=bypass_rls,
                roles=sorted(str(role) for role in member_of),
                searchPaths=_read_search_path(settings),
                assumeRole=_read_setting(settings, "role") or "",
                statementTimeout=int(_read_setting(settings, "statement_timeout") or 0),
                idleInTransactionSessionTimeout=int(
                    _read_setting(settings, "idle_in_transaction_session_timeout") or 0
                ),
            )
            if state.get("password"):
                new["password"] = self._read_password(connection, str(name), str(state["password"]), bool(login))
        return str(name), new

    def _read_password(self, connection: psycopg.Connection[Any], role: str, state_password: str, login: bool) -> str:
        """readRolePassword: from pg_shadow when the provider is a superuser; a SCRAM hash or an md5
        hash of the same password counts as the state's password."""
        if not login or not self.config.superuser:
            return state_password
        if not is_superuser(connection, current_user(connection)):
            raise ProviderError(
                f"could not read role password from Postgres as connected user {self.config.database_user} "
                "is not a SUPERUSER. You can set `superuser = false` in the provider configuration "
                "so it will not try to read the password from Postgres"
            )
        row = query_one(
            connection, "SELECT COALESCE(passwd, '') FROM pg_catalog.pg_shadow AS s WHERE s.usename = %s", (role,)
        )
        stored = str(row[0]) if row else ""
        if state_password and not state_password.startswith(("md5", "SCRAM-SHA-256")):
            md5 = "md5" + hashlib.md5((state_password + role).encode()).hexdigest()
            if (stored.startswith("md5") and md5 == stored) or stored.startswith("SCRAM-SHA-256"):
                return state_password
        return stored

    def update(self, resource_id: str, change: Change) -> tuple[str, dict[str, Any]]:
        name = change.text("name")
        role = ident(name)
        with self.config.connect() as connection:
            server = Server.of(connection)
            with transaction(connection):
                lock_role(connection, str(change.old.get("name") or resource_id))
                if "name" in change.changed:
                    if not name:
                        raise ProviderError("error setting role name to an empty string")
                    execute(connection, f"ALTER ROLE {ident(str(change.old.get('name')))} RENAME TO {role}")
                self._set_password(connection, change)
                if "bypassRowLevelSecurity" in change.changed and not server.supports("rls"):
                    raise ProviderError("the server does not support PostgreSQL Row-Level Security")
                for key, on, off in (
                    ("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"),
                    ("connectionLimit", "", ""),
                    ("createDatabase", "CREATEDB", "NOCREATEDB"),
                    ("createRole", "CREATEROLE", "NOCREATEROLE"),
                    ("inherit", "INHERIT", "NOINHERIT"),
                    ("login", "LOGIN", "NOLOGIN"),
                    ("replication", "REPLICATION", "NOREPLICATION"),
                    ("superuser", "SUPERUSER", "NOSUPERUSER"),
                ):
                    if key not in change.changed:
                        continue
                    if key == "connectionLimit":
                        execute(connection, f"ALTER ROLE {role} CONNECTION LIMIT {change.number(key)}")
                    else:
                        execute(connection, f"ALTER ROLE {role} WITH {on if change.flag(key) else off}")
                if "validUntil" in change.changed and change.text("validUntil"):
                    until = change.text("validUntil")
                    until = "infinity" if until.lower() == "infinity" else until
                    execute(connection, f"ALTER ROLE {role} VALID UNTIL '{literal(until)}'")
                # revokeRoles, then grantRoles
                for (granted,) in query_all(
                    connection,
                    "SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members members "
                    "JOIN pg_catalog.pg_roles ON members.member = pg_roles.oid WHERE rolname = %s",
                    (name,),
                ):
                    execute(connection, f"REVOKE {ident(str(granted))} FROM {role}")
                self._memberships_and_settings(connection, change, creating=False)
        return self.read_back(name, change.new, "role")

    def _set_password(self, connection: psycopg.Connection[Any], change: Change) -> None:
        """setRolePassword: on a change of the password (or name); a write-only password on a new version."""
        if change.text("passwordWo"):
            if "passwordWoVersion" not in change.changed:
                return
            password = change.text("passwordWo")
            change.new["password"] = None
        else:
            if "password" not in change.changed and "name" not in change.changed:
                return
            password = change.text("password")
            if not password:
                return
        execute(connection, f"ALTER ROLE {ident(change.text('name'))} PASSWORD '{literal(password)}'")

    def delete(self, resource_id: str, state: dict[str, Any]) -> None:
        name = str(state.get("name") or resource_id)
        with self.config.connect() as connection, transaction(connection):
            lock_role(connection, name)
            if not state.get("skipReassignOwned"):

                def reassign_and_drop_owned() -> None:
                    execute(connection, f"REASSIGN OWNED BY {ident(name)} TO {ident(self.config.database_user)}")
                    execute(connection, f"DROP OWNED BY {ident(name)}")

                with_roles_granted(connection, [name], reassign_and_drop_owned)
            if not state.get("skipDropRole"):
                execute(connection, f"DROP ROLE {ident(name)}")


def _read_setting(settings: list[str], key: str) -> str | None:
    """readStatementTimeout, readIdleInTransactionSessionTimeout, readAssumeRole (prefix matches, as upstream)."""
    found = None
    for setting in settings:
        if setting.startswith(key):
            found = setting.removeprefix(key + "=").split(", ")[0]
            if key != "role":
                return found
    return found


def _read_search_path(settings: list[str]) -> list[str]:
    for setting in settings:
        if setting.startswith("search_path"):
            return [part.strip('"') for part in setting.removeprefix("search_path=").split(", ")]
    return []


def _quoted(value: str) -> str:
    return f"'{literal(value)}' "  # upstream's trailing space, kept so the SQL is upstream's


# createDatabase's optional clauses, in upstream's order: the attribute, its keyword, how a value
# is written, and what an empty attribute gives (None: no clause).
DATABASE_CLAUSES: tuple[tuple[str, str, Callable[[str], str], str | None], ...] = (
    ("template", "TEMPLATE", ident, "template0"),
    ("encoding", "ENCODING", _quoted, "'UTF8'"),
    ("lcCollate", "LC_COLLATE", _quoted, None),
    ("lcCtype", "LC_CTYPE", _quoted, None),
    ("tablespaceName", "TABLESPACE", ident, None),
)


def _database_clause(value: str, keyword: str, spelled: Callable[[str], str], when_empty: str | None) -> str:
    """One clause of CREATE DATABASE: `DEFAULT` (any case) as the keyword DEFAULT, an empty value as
    `when_empty`."""
    if value.upper() == "DEFAULT":
        return f" {keyword} DEFAULT"
    if value:
        return f" {keyword} {spelled(value)}"
    return f" {keyword} {when_empty}" if when_empty else ""


class DatabaseHandler(Handler):
    """resource_postgresql_database.go"""

    resource = DATABASE

    @contextlib.contextmanager
    def _as_owner(self, owner: str) -> Iterator[psycopg.Connection[Any]]:
        """The lock on the connecting role and the temporary membership in `owner` that upstream
        takes around CREATE/ALTER/DROP DATABASE (grantRoleMembership, then revokeRoleMembership)."""
        user = self.config.database_user
        with self.config.connect() as locker, self.config.connect() as connection:
            if not owner:
                yield connection
                return
            with transaction(locker):
                lock_role(locker, user)
                granted = grant_role_membership(connection, owner, user)
                try:
                    yield connection
                finally:
                    if granted:
                        revoke_role_membership(connection, owner, user)

    def create(self, change: Change) -> tuple[str, dict[str, Any]]:
        name = change.text("name")
        owner = change.text("owner")
        parts = [f"CREATE DATABASE {ident(name)}", f" OWNER {ident(owner or self.config.database_user)}"]
        for key, keyword, spelled, when_empty in DATABASE_CLAUSES:
            parts.append(_database_clause(change.text(key), keyword, spelled, when_empty))
        parts.append(f" ALLOW_CONNECTIONS {'true' if change.flag('allowConnections') else 'false'}")
        parts.append(f" CONNECTION LIMIT {change.number('connectionLimit')}")
        parts.append(f" IS_TEMPLATE {'true' if change.flag('isTemplate') else 'false'}")
        with self._as_owner(owner) as connection:
            try:
                execute(connection, "".join(parts))
            except psycopg.Error as error:
                raise ProviderError(f'error creating database "{name}": {error}') from error
        return self.read_back(name, change.new, "database")

    def read(self, resource_id: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        with self.config.connect() as connection:
            row = query_one(
                connection,
                "SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba), pg_catalog.pg_encoding_to_char(d.encoding), "
                "d.datcollate, d.datctype, ts.spcname, d.datconnlimit, d.datallowconn, d.datistemplate "
                "FROM pg_catalog.pg_database AS d, pg_catalog.pg_tablespace AS ts "
                "WHERE d.datname = %s AND d.dattablespace = ts.oid",
                (resource_id,),
            )
        if row is None:
            return None
        # psycopg already returns the int and bool columns as int and bool.
        columns = ("name", "owner", "encoding", "lcCollate", "lcCtype", "tablespaceName")
        columns += ("connectionLimit", "allowConnections", "isTemplate")
        new = {**state, **dict(zip(columns, row, strict=True))}
        new["template"] = state.get("template") or "template0"
        new["alterObjectOwnership"] = bool(state.get("alterObjectOwnership"))
        return str(new["name"]), new

    def update(self, resource_id: str, change: Change) -> tuple[str, dict[str, Any]]:
        name = change.text("name")
        with self.config.connect() as connection:
            if "name" in change.changed:
                if not name:
                    raise ProviderError("error setting database name to an empty string")
                old_name = str(change.old.get("name") or resource_id)
                execute(connection, f"ALTER DATABASE {ident(old_name)} RENAME TO {ident(name)}")
        owner = change.text("owner")
        if ("owner" in change.changed or "alterObjectOwnership" in change.changed) and owner:
            self._alter_ownership(name, owner, change)
        if "owner" in change.changed and owner:
            with self._as_owner(owner) as connection:
                execute(connection, f"ALTER DATABASE {ident(name)} OWNER TO {ident(owner)}")
        with self.config.connect() as connection:
            if "tablespaceName" in change.changed:
                tablespace = change.text("tablespaceName")
                if not tablespace or tablespace.upper() == "DEFAULT":
                    execute(connection, f"ALTER DATABASE {ident(name)} RESET TABLESPACE")
                else:
                    execute(connection, f"ALTER DATABASE {ident(name)} SET TABLESPACE {ident(tablespace)}")
            if "connectionLimit" in change.changed:
                execute(
                    connection, f"ALTER DATABASE {ident(name)} CONNECTION LIMIT = {change.number('connectionLimit')}"
                )
            if "allowConnections" in change.changed:
                allow = "true" if change.flag("allowConnections") else "false"
                execute(connection, f"ALTER DATABASE {ident(name)} ALLOW_CONNECTIONS {allow}")
            if "isTemplate" in change.changed:
                is_template = "true" if change.flag("isTemplate") else "false"
                execute(connection, f"ALTER DATABASE {ident(name)} IS_TEMPLATE {is_template}")
        return self.read_back(name, change.new, "database")

    def _alter_ownership(self, name: str, owner: str, change: Change) -> None:
        """setAlterOwnership: REASSIGN OWNED BY the current owner inside the database."""
        if not change.flag("alterObjectOwnership"):
            return
        with self.config.connect(name) as inside, transaction(inside):
            lock_role(inside, self.config.database_user)
            current = database_owner(inside, name)
            if current == owner:
                return
            with self.config.connect() as connection:
                granted = grant_role_membership(connection, current, self.config.database_user)
                try:
                    execute(inside, f"REASSIGN OWNED BY {ident(current)} TO {ident(owner)}")
                finally:
                    if granted:
                        revoke_role_membership(connection, current, self.config.database_user)

    def delete(self, resource_id: str, state: dict[str, Any]) -> None:
        name = str(state.get("name") or resource_id)
        with self._as_owner(str(state.get("owner") or "")) as connection:
            server = Server.of(connection)
            if state.get("isTemplate"):
                execute(connection, f"ALTER DATABASE {ident(name)} IS_TEMPLATE false")
            # terminateBConnections
            execute(connection, f"ALTER DATABASE {ident(name)} ALLOW_CONNECTIONS false")
            execute(
                connection,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            )
            force = "WITH ( FORCE )" if server.supports("force_drop_database") else ""
            try:
                execute(connection, f"DROP DATABASE {ident(name)} {force}")
            except psycopg.Error as error:
                raise ProviderError(f"error dropping database: {error}") from error


class GrantHandler(Handler):
    """resource_postgresql_grant.go"""

    resource = GRANT

    def _validate(self, change: Change, server: Server) -> None:
        object_type = change.text("objectType")
        objects, columns = change.items("objects"), change.items("columns")
        if not change.text("schema") and object_type not in ("database", "foreign_data_wrapper", "foreign_server"):
            raise ProviderError("parameter 'schema' is mandatory for postgresql_grant resource")
        if objects and object_type in ("database", "schema"):
            raise ProviderError("cannot specify `objects` when `object_type` is `database` or `schema`")
        if columns and object_type != "column":
            raise ProviderError("cannot specify `columns` when `object_type` is not `column`")
        if object_type == "column":
            raise ProviderError("column grants are not reproduced by this test stand-in")
        if len(objects) != 1 and object_type in ("foreign_data_wrapper", "foreign_server"):
            raise ProviderError(
                "one element must be specified in `objects` when `object_type` is "
                "`foreign_data_wrapper` or `foreign_server`"
            )
        validate_privileges(object_type, change.items("privileges"), server)

    def create(self, change: Change) -> tuple[str, dict[str, Any]]:
        return self._create_or_update(change, use_previous=False)

    def update(self, resource_id: str, change: Change) -> tuple[str, dict[str, Any]]:
        return self._create_or_update(change, use_previous=True)

    def _create_or_update(self, change: Change, *, use_previous: bool) -> tuple[str, dict[str, Any]]:
        database = change.text("database")
        object_type = change.text("objectType")
        with self.config.connect(database) as connection:
            self._validate(change, Server.of(connection))
            with transaction(connection):
                lock_role(connection, change.text("role"))
                if object_type == "database":
                    lock_database(connection, database)
                owners = roles_to_grant(connection, object_type, change.text("schema"))

                def revoke_then_grant() -> None:
                    # Revoke all privileges before granting otherwise reducing privileges will not work.
                    getter = change.previous if use_previous else change.get
                    execute(connection, _revoke_query(getter))
                    privileges = change.items("privileges")
                    if privileges:
                        execute(connection, _grant_query(change, privileges))

                with_roles_granted(connection, owners, revoke_then_grant)
        return self.read_back(grant_id(change.new), change.new, "grant")

    def read(self, resource_id: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        database = str(state.get("database") or "")
        with self.config.connect() as connection:
            server = Server.of(connection)
            if not database_exists(connection, database):
                return None
        with self.config.connect(database) as connection:
            role = str(state.get("role") or "")
            object_type = str(state.get("objectType") or "")
            schema = str(state.get("schema") or "")
            if role != PUBLIC_ROLE and not role_exists(connection, role):
                return None
            needs_schema = object_type not in ("database", "foreign_data_wrapper", "foreign_server")
            if needs_schema and schema and not schema_exists(connection, schema):
                return None
            new = dict(state)
            with transaction(connection):
                granted = self._granted(connection, state, server)
            wanted = [str(p) for p in state.get("privileges") or []]
            if granted is not None and not privileges_equal(granted, wanted, object_type, server):
                new["privileges"] = sorted(granted)
        return grant_id(new), new

    def _granted(self, connection: psycopg.Connection[Any], state: dict[str, Any], server: Server) -> list[str] | None:
        """readRolePrivileges: the privileges to report when PostgreSQL differs from the state (None: it agrees)."""
        object_type = str(state.get("objectType"))
        oid = role_oid(connection, str(state.get("role")))
        acl_of = {
            "database": ("datacl", "pg_database", "datname", str(state.get("database"))),
            "schema": ("nspacl", "pg_namespace", "nspname", str(state.get("schema"))),
        }
        if object_type in acl_of:
            column, table, key, name = acl_of[object_type]
            row = query_one(
                connection,
                f"SELECT array_agg(privilege_type) FROM (SELECT (aclexplode({column})).* FROM {table} WHERE {key}=%s) "
                "as privileges WHERE grantee = %s",
                (name, oid),
            )
            return [str(p) for p in (row[0] if row and row[0] else [])]
        if object_type not in OBJECT_TYPE_CODES:
            raise ProviderError(f"reading grants on {object_type} objects is not reproduced by this test stand-in")
        if object_type in ("function", "routine"):
            statement = (
                "SELECT pg_proc.proname, array_remove(array_agg(privilege_type), NULL) FROM pg_proc "
                "JOIN pg_namespace ON pg_namespace.oid = pg_proc.pronamespace LEFT JOIN ("
                "select acls.* from (SELECT proname, pronamespace, (aclexplode(proacl)).* FROM pg_proc) acls "
                "WHERE grantee = %s) privs USING (proname, pronamespace) WHERE nspname = %s GROUP BY pg_proc.proname"
            )
            rows = query_all(connection, statement, (oid, state.get("schema")))
        else:
            statement = (
                "SELECT pg_class.relname, array_remove(array_agg(privilege_type), NULL) FROM pg_class "
                "JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace LEFT JOIN ("
                "SELECT acls.* FROM (SELECT relname, relnamespace, relkind, (aclexplode(relacl)).* FROM pg_class c) "
                "as acls WHERE grantee=%s) privs USING (relname, relnamespace, relkind) "
                "WHERE nspname = %s AND relkind = %s GROUP BY pg_class.relname"
            )
            rows = query_all(connection, statement, (oid, state.get("schema"), OBJECT_TYPE_CODES[object_type]))
        objects = {str(o) for o in state.get("objects") or []}
        wanted = [str(p) for p in state.get("privileges") or []]
        for name, privileges in rows:
            if objects and name not in objects:
                continue
            granted = [str(p) for p in privileges or []]
            if not privileges_equal(granted, wanted, object_type, server):
                return granted
        return None

    def delete(self, resource_id: str, state: dict[str, Any]) -> None:
        database = str(state.get("database"))
        change = Change(new=dict(state))
        with self.config.connect(database) as connection, transaction(connection):
            lock_role(connection, change.text("role"))
            if change.text("objectType") == "database":
                lock_database(connection, database)
            owners = roles_to_grant(connection, change.text("objectType"), change.text("schema"))
            with_roles_granted(connection, owners, lambda: execute(connection, _revoke_query(change.get)))


def grant_id(state: dict[str, Any]) -> str:
    """generateGrantID"""
    object_type = str(state.get("objectType"))
    parts = [str(state.get("role")), str(state.get("database"))]
    if object_type not in ("database", "foreign_data_wrapper", "foreign_server"):
        parts.append(str(state.get("schema") or ""))
    parts.append(object_type)
    parts += [str(item) for item in state.get("objects") or []]
    parts += [str(item) for item in state.get("columns") or []]
    return "_".join(parts)


def _qualified(schema: str, objects: list[str]) -> str:
    """setToPgIdentList"""
    return ",".join(f"{ident(schema)}.{ident(name)}" for name in objects)


def _grant_query(change: Change, privileges: list[str]) -> str:
    """createGrantQuery"""
    object_type = change.text("objectType").upper()
    role = ident(change.text("role"))
    joined = ",".join(privileges)
    objects = change.items("objects")
    if object_type == "DATABASE":
        query = f"GRANT {joined} ON DATABASE {ident(change.text('database'))} TO {role}"
    elif object_type == "SCHEMA":
        query = f"GRANT {joined} ON SCHEMA {ident(change.text('schema'))} TO {role}"
    elif object_type in ("FOREIGN_DATA_WRAPPER", "FOREIGN_SERVER"):
        kind = object_type.replace("_", " ")
        query = f"GRANT {joined} ON {kind} {ident(objects[0])} TO {role}"
    elif objects:
        query = f"GRANT {joined} ON {object_type} {_qualified(change.text('schema'), objects)} TO {role}"
    else:
        query = f"GRANT {joined} ON ALL {object_type}S IN SCHEMA {ident(change.text('schema'))} TO {role}"
    if change.flag("withGrantOption"):
        query += " WITH GRANT OPTION"
    return query


def _revoke_query(get: Callable[[str], Any]) -> str:
    """createRevokeQuery"""
    object_type = str(get("objectType")).upper()
    role = ident(str(get("role")))
    objects = [str(item) for item in get("objects") or []]
    privileges = [str(item) for item in get("privileges") or []]
    if object_type == "DATABASE":
        return f"REVOKE ALL PRIVILEGES ON DATABASE {ident(str(get('database')))} FROM {role}"
    if object_type == "SCHEMA":
        return f"REVOKE ALL PRIVILEGES ON SCHEMA {ident(str(get('schema')))} FROM {role}"
    if object_type in ("FOREIGN_DATA_WRAPPER", "FOREIGN_SERVER"):
        return f"REVOKE ALL PRIVILEGES ON {object_type.replace('_', ' ')} {ident(objects[0])} FROM {role}"
    schema = str(get("schema") or "")
    if objects:
        what = ",".join(privileges) if privileges else "ALL PRIVILEGES"
        return f"REVOKE {what} ON {object_type} {_qualified(schema, objects)} FROM {role}"
    return f"REVOKE ALL PRIVILEGES ON ALL {object_type}S IN SCHEMA {ident(schema)} FROM {role}"


class DefaultPrivilegesHandler(Handler):
    """resource_postgresql_default_privileges.go"""

    resource = DEFAULT_PRIVILEGES

    def create(self, change: Change) -> tuple[str, dict[str, Any]]:
        schema, object_type = change.text("schema"), change.text("objectType")
        if schema and object_type == "schema":
            raise ProviderError("cannot specify `schema` when `object_type` is `schema`")
        if change.flag("withGrantOption") and change.text("role").lower() == PUBLIC_ROLE:
            raise ProviderError("with_grant_option cannot be true for role 'public'")
        owner = change.text("owner")
        with self.config.connect(change.text("database")) as connection:
            validate_privileges(object_type, change.items("privileges"), Server.of(connection))
            with transaction(connection):
                lock_role(connection, owner)

                def revoke_then_grant() -> None:
                    execute(connection, _default_privileges_revoke(change.new))
                    privileges = change.items("privileges")
                    if privileges:
                        in_schema = f"IN SCHEMA {ident(schema)}" if schema else ""
                        query = (
                            f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(owner)} {in_schema} "
                            f"GRANT {','.join(privileges)} ON {object_type.upper()}S TO {ident(change.text('role'))}"
                        )
                        if change.flag("withGrantOption"):
                            query += " WITH GRANT OPTION"
                        execute(connection, query)

                with_roles_granted(connection, [owner], revoke_then_grant)
        return self.read_back(default_privileges_id(change.new), change.new, "default privileges")

    def update(self, resource_id: str, change: Change) -> tuple[str, dict[str, Any]]:
        return self.create(change)  # Update: PGResourceFunc(resourcePostgreSQLDefaultPrivilegesCreate)

    def read(self, resource_id: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        database = str(state.get("database") or "")
        role, owner = str(state.get("role") or ""), str(state.get("owner") or "")
        schema, object_type = str(state.get("schema") or ""), str(state.get("objectType") or "")
        with self.config.connect() as connection:
            server = Server.of(connection)
            if not database_exists(connection, database):
                return None
        with self.config.connect(database) as connection:
            if role != PUBLIC_ROLE and not role_exists(connection, role):
                return None
            if schema and not schema_exists(connection, schema):
                return None
            with transaction(connection):
                lock_role(connection, owner)
                oid = role_oid(connection, role)
                if schema:
                    row = query_one(
                        connection,
                        "SELECT array_agg(prtype) FROM (SELECT defaclnamespace, (aclexplode(defaclacl)).* "
                        "FROM pg_default_acl WHERE defaclobjtype = %s) AS t (namespace, grantor_oid, grantee_oid, "
                        "prtype, grantable) JOIN pg_namespace ON pg_namespace.oid = namespace "
                        "WHERE grantee_oid = %s AND nspname = %s AND pg_get_userbyid(grantor_oid) = %s",
                        (OBJECT_TYPE_CODES[object_type], oid, schema, owner),
                    )
                else:
                    row = query_one(
                        connection,
                        "SELECT array_agg(prtype) FROM (SELECT defaclnamespace, (aclexplode(defaclacl)).* "
                        "FROM pg_default_acl WHERE defaclobjtype = %s) AS t (namespace, grantor_oid, grantee_oid, "
                        "prtype, grantable) "
                        "WHERE grantee_oid = %s AND namespace = 0 AND pg_get_userbyid(grantor_oid) = %s",
                        (OBJECT_TYPE_CODES[object_type], oid, owner),
                    )
        granted = [str(p) for p in (row[0] if row and row[0] else [])]
        wanted = [str(p) for p in state.get("privileges") or []]
        if not granted and wanted:
            return None  # "We consider no privileges as 'not exists' unless no privileges were provided as input"
        new = dict(state)
        if not privileges_equal(granted, wanted, object_type, server):
            new["privileges"] = sorted(granted)
        return default_privileges_id(new), new

    def delete(self, resource_id: str, state: dict[str, Any]) -> None:
        owner = str(state.get("owner"))
        with self.config.connect(str(state.get("database"))) as connection, transaction(connection):
            lock_role(connection, owner)
            with_roles_granted(connection, [owner], lambda: execute(connection, _default_privileges_revoke(state)))


def _default_privileges_revoke(state: dict[str, Any]) -> str:
    schema = str(state.get("schema") or "")
    in_schema = f"IN SCHEMA {ident(schema)}" if schema else ""
    return (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(str(state.get('owner')))} {in_schema} REVOKE ALL ON "
        f"{str(state.get('objectType')).upper()}S FROM {ident(str(state.get('role')))}"
    )


def default_privileges_id(state: dict[str, Any]) -> str:
    """generateDefaultPrivilegesID"""
    schema = str(state.get("schema") or "") or "noschema"
    return "_".join(
        [
            str(state.get("role")),
            str(state.get("database")),
            schema,
            str(state.get("owner")),
            str(state.get("objectType")),
        ]
    )


class PublicationHandler(Handler):
    """resource_postgresql_publication.go"""

    resource = PUBLICATION
    PUBLISH = ("insert", "update", "delete", "truncate")

    def _database(self, state: dict[str, Any]) -> str:
        return str(state.get("database") or self.config.database)

    def create(self, change: Change) -> tuple[str, dict[str, Any]]:
        name = change.text("name")
        database = self._database(change.new)
        tables = change.items("tables")
        target = "FOR ALL TABLES" if change.flag("allTables") else ""
        if tables:
            target = "FOR TABLE " + ", ".join(_quote_table(table) for table in tables)
        with self.config.connect(database) as connection:
            server = Server.of(connection)
            params = []
            if change.flag("publishViaPartitionRootParam"):
                if not server.supports("publish_via_root"):
                    raise ProviderError("publish_via_partition_root attribute is supported only for postgres 13+")
                params.append("publish_via_partition_root = true")
            if change.items("publishParams"):
                params.append(f"publish = '{', '.join(self._publish(change))}'")
            with_params = f"WITH ({','.join(params)})" if params else ""
            with transaction(connection):
                execute(connection, f"CREATE PUBLICATION {name} {target} {with_params}")
                if change.text("owner"):
                    execute(connection, f"ALTER PUBLICATION {name} OWNER TO {change.text('owner')}")
        new = dict(change.new, database=database)
        return self.read_back(f"{database}.{name}", new, "publication")

    def _publish(self, change: Change) -> list[str]:
        params = change.items("publishParams")
        if len(set(params)) != len(params):
            raise ProviderError("a publish parameter is duplicated")
        for param in params:
            if param not in self.PUBLISH:
                raise ProviderError(
                    f"invalid value of `publish_param`: {param}. Should be at least one of '{', '.join(self.PUBLISH)}'"
                )
        return params

    def read(self, resource_id: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        database, name = self._database(state), str(state.get("name") or "")
        if not name:
            database, _, name = resource_id.partition(".")
        with self.config.connect(database) as connection:
            server = Server.of(connection)
            columns = ["puballtables", "pubinsert", "pubupdate", "pubdelete", "r.rolname as pubownername"]
            if server.supports("publish_via_root"):
                columns.append("pubviaroot")
            if server.supports("publication_truncate"):
                columns.append("pubtruncate")
            with transaction(connection):
                row = query_one(
                    connection,
                    f"SELECT {', '.join(columns)} FROM pg_catalog.pg_publication as p join pg_catalog.pg_roles as r "
                    "on p.pubowner = r.oid WHERE pubname = %s",
                    (literal(name),),
                )
                if row is None:
                    return None
                tables = query_all(
                    connection,
                    "SELECT CONCAT(schemaname,'.',tablename) as fulltablename FROM pg_catalog.pg_publication_tables "
                    "WHERE pubname = %s",
                    (literal(name),),
                )
        all_tables, insert, update, delete, owner = row[:5]
        rest = list(row[5:])
        via_root = bool(rest.pop(0)) if server.supports("publish_via_root") else None
        truncate = bool(rest.pop(0)) if server.supports("publication_truncate") else False
        flags = (insert, update, delete, truncate)
        new = dict(state)
        new.update(
            name=name,
            database=database,
            owner=owner,
            tables=sorted(str(table[0]) for table in tables),
            allTables=bool(all_tables),
            publishParams=[param for param, on in zip(self.PUBLISH, flags, strict=True) if on],
            dropCascade=bool(state.get("dropCascade")),
        )
        if via_root is not None:
            new["publishViaPartitionRootParam"] = via_root
        return f"{database}.{name}", new

    def update(self, resource_id: str, change: Change) -> tuple[str, dict[str, Any]]:
        database = self._database(change.new)
        name = str(change.old.get("name") or change.text("name"))
        with self.config.connect(database) as connection:
            server = Server.of(connection)
            with transaction(connection):
                if "owner" in change.changed:
                    execute(connection, f"ALTER PUBLICATION {name} OWNER TO {change.text('owner')}")
                if "tables" in change.changed:
                    old, new = set(change.old.get("tables") or []), set(change.items("tables"))
                    for table in sorted(new - old):
                        execute(connection, f"ALTER PUBLICATION {name} ADD TABLE {_quote_table(table)}")
                    for table in sorted(old - new):
                        execute(connection, f"ALTER PUBLICATION {name} DROP TABLE {_quote_table(table)}")
                params = []
                if "publishViaPartitionRootParam" in change.changed:
                    if not server.supports("publish_via_root"):
                        raise ProviderError("publish_via_partition_root attribute is supported only for postgres 13+")
                    via_root = "true" if change.flag("publishViaPartitionRootParam") else "false"
                    params.append(f"publish_via_partition_root = {via_root}")
                if "publishParams" in change.changed:
                    params.append(f"publish = '{', '.join(self._publish(change))}'")
                if params:
                    execute(connection, f"ALTER PUBLICATION {name} SET ({','.join(params)})")
                if "name" in change.changed:
                    execute(connection, f"ALTER PUBLICATION {ident(name)} RENAME TO {ident(change.text('name'))}")
        return self.read_back(f"{database}.{change.text('name')}", dict(change.new, database=database), "publication")

    def delete(self, resource_id: str, state: dict[str, Any]) -> None:
        mode = "CASCADE" if state.get("dropCascade") else "RESTRICT"
        with self.config.connect(self._database(state)) as connection, transaction(connection):
            execute(connection, f"DROP PUBLICATION {ident(str(state.get('name')))} {mode}")


def _quote_table(table: str) -> str:
    """quoteTableName: schema.table, each part quoted."""
    schema, dot, name = table.partition(".")
    return f"{ident(schema)}.{ident(name)}" if dot else ident(table)


HANDLERS: dict[str, type[Handler]] = {
    handler.resource.token: handler
    for handler in (RoleHandler, DatabaseHandler, GrantHandler, DefaultPrivilegesHandler, PublicationHandler)
}


# ----------------------------------------------------------------------------- check and diff


def check(
    resource: Resource, olds: dict[str, Any], news: dict[str, Any], urn_name: str, seed: bytes
) -> tuple[dict[str, Any], list[provider_pb2.CheckFailure]]:
    """The bridge's Check: the inputs with the schema's defaults filled in, an autoname where the
    provider names resources, and the schema's validation failures."""
    inputs = {key: value for key, value in news.items() if key in resource.attrs or key == "__defaults"}
    inputs.pop("__defaults", None)
    failures = []
    if resource.autonamed and inputs.get("name") is None:
        if olds.get("name") is not None:
            inputs["name"] = olds["name"]
        else:
            suffix = hashlib.sha256(seed + urn_name.encode()).hexdigest()[:7]
            inputs["name"] = f"{urn_name}-{suffix}"[:255]
    for key, attr in resource.attrs.items():
        value = inputs.get(key)
        if value is None and attr.default is not None:
            inputs[key] = attr.default
            continue
        if value is None:
            if attr.required:
                failures.append(provider_pb2.CheckFailure(property=key, reason=f"Missing required argument: {key}"))
            continue
        plain = reveal(value)
        if is_unknown(plain):
            continue
        if attr.allowed and plain not in attr.allowed:
            failures.append(
                provider_pb2.CheckFailure(
                    property=key, reason=f"expected {key} to be one of {list(attr.allowed)}, got {plain}"
                )
            )
        if attr.at_least is not None and isinstance(plain, int | float) and plain < attr.at_least:
            failures.append(
                provider_pb2.CheckFailure(
                    property=key, reason=f"expected {key} to be at least ({attr.at_least}), got {plain}"
                )
            )
    for key in news:
        if key not in resource.attrs and key != "__defaults":
            failures.append(provider_pb2.CheckFailure(property=key, reason=f"unknown property {key}"))
    return inputs, failures


def changed_attrs(resource: Resource, olds: dict[str, Any], news: dict[str, Any], ignore: set[str]) -> set[str]:
    """Terraform's plan, attribute by attribute: a computed attribute without a value keeps its
    state; otherwise a missing value is the type's zero value; an unknown value is a change."""
    changed = set()
    for key, attr in resource.attrs.items():
        if key in ignore or attr.write_only:
            continue
        new = news.get(key)
        if is_unknown(new):
            changed.add(key)
            continue
        if reveal(new) is None and attr.computed:
            continue
        if normalised(attr, new) != normalised(attr, olds.get(key)):
            changed.add(key)
    if "passwordWoVersion" in changed:
        changed.add("passwordWo")
    return changed


# ----------------------------------------------------------------------------- the gRPC service


class PostgresqlProvider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self) -> None:
        self.config: Config | None = None
        self.config_error: str | None = None

    def GetPluginInfo(self, request: empty_pb2.Empty, context: Any) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=VERSION)

    def GetSchema(self, request: provider_pb2.GetSchemaRequest, context: Any) -> provider_pb2.GetSchemaResponse:
        return provider_pb2.GetSchemaResponse(schema=schema_json())

    def Cancel(self, request: empty_pb2.Empty, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    # -- configuration

    def CheckConfig(self, request: provider_pb2.CheckRequest, context: Any) -> provider_pb2.CheckResponse:
        news = from_struct(request.news)
        failures = []
        for key, attr in CONFIG_ATTRS.items():
            value = typed(attr, news.get(key))
            if value is None or is_unknown(value):
                continue
            if attr.allowed and value not in attr.allowed:
                failures.append(
                    provider_pb2.CheckFailure(
                        property=key, reason=f"expected {key} to be one of {list(attr.allowed)}, got {value}"
                    )
                )
        return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

    def DiffConfig(self, request: provider_pb2.DiffRequest, context: Any) -> provider_pb2.DiffResponse:
        olds, news = from_struct(request.olds), from_struct(request.news)
        keys = sorted((set(olds) | set(news)) - {"version"})
        changes = [key for key in keys if is_unknown(news.get(key)) or reveal(olds.get(key)) != reveal(news.get(key))]
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changes else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changes,
        )

    def Configure(self, request: provider_pb2.ConfigureRequest, context: Any) -> provider_pb2.ConfigureResponse:
        if request.HasField("args"):
            values = from_struct(request.args)
        else:
            values = {key.rpartition(":")[2]: value for key, value in request.variables.items()}
        if any(is_unknown(value) for value in values.values()):
            self.config, self.config_error = None, "the provider's configuration is not known yet (preview)"
        else:
            try:
                self.config, self.config_error = Config.from_inputs(values), None
            except ProviderError as error:
                self.config, self.config_error = None, str(error)
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=False)

    def _handler(self, token: str, context: Any) -> Handler:
        if token not in HANDLERS:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{token} is not reproduced by this test stand-in")
        config = self.config
        if config is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, self.config_error or "the provider is not configured")
            raise AssertionError("context.abort raises")
        return HANDLERS[token](config)

    # -- resources

    def Check(self, request: provider_pb2.CheckRequest, context: Any) -> provider_pb2.CheckResponse:
        token = request.type or _type_of(request.urn)
        if token not in RESOURCES:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{token} is not reproduced by this test stand-in")
        name = request.name or request.urn.rpartition("::")[2]
        inputs, failures = check(
            RESOURCES[token], from_struct(request.olds), from_struct(request.news), name, bytes(request.randomSeed)
        )
        return provider_pb2.CheckResponse(inputs=to_struct(inputs), failures=failures)

    def Diff(self, request: provider_pb2.DiffRequest, context: Any) -> provider_pb2.DiffResponse:
        resource = RESOURCES[request.type or _type_of(request.urn)]
        olds, news = from_struct(request.olds), from_struct(request.news)
        changed = changed_attrs(resource, olds, news, set(request.ignoreChanges))
        replaces = sorted(key for key in changed if resource.attrs[key].force_new)
        detailed = {}
        for key in sorted(changed):
            if resource.attrs[key].write_only:
                continue
            old_missing, new_missing = olds.get(key) is None, news.get(key) is None
            kind = "DELETE" if new_missing else "ADD" if old_missing else "UPDATE"
            if key in replaces:
                kind += "_REPLACE"
            detailed[key] = provider_pb2.PropertyDiff(kind=getattr(provider_pb2.PropertyDiff, kind), inputDiff=False)
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=replaces,
            diffs=sorted(changed),
            deleteBeforeReplace=bool(replaces) and resource.delete_before_replace,
            detailedDiff=detailed,
            hasDetailedDiff=True,
        )

    def Create(self, request: provider_pb2.CreateRequest, context: Any) -> provider_pb2.CreateResponse:
        handler = self._handler(request.type or _type_of(request.urn), context)
        inputs = from_struct(request.properties)
        if request.preview:
            return provider_pb2.CreateResponse(properties=request.properties)
        resource_id, state = self._call(context, lambda: handler.create(Change(new=reveal(inputs))))
        return provider_pb2.CreateResponse(id=resource_id, properties=self._outputs(handler, state, inputs))

    def Read(self, request: provider_pb2.ReadRequest, context: Any) -> provider_pb2.ReadResponse:
        handler = self._handler(request.type or _type_of(request.urn), context)
        state = from_struct(request.properties)
        found = self._call(context, lambda: handler.read(request.id, reveal(state)))
        if found is None:
            return provider_pb2.ReadResponse()
        resource_id, new_state = found
        outputs = self._outputs(handler, new_state, state)
        inputs = from_struct(request.inputs)
        plain_outputs = from_struct(outputs)
        for key in list(inputs):  # the bridge's extractInputs: inputs follow what was read back
            if plain_outputs.get(key) is not None and reveal(plain_outputs[key]) != reveal(inputs[key]):
                inputs[key] = (
                    Secret(reveal(plain_outputs[key]))
                    if isinstance(inputs[key], Secret)
                    else reveal(plain_outputs[key])
                )
        return provider_pb2.ReadResponse(id=resource_id, properties=outputs, inputs=to_struct(inputs))

    def Update(self, request: provider_pb2.UpdateRequest, context: Any) -> provider_pb2.UpdateResponse:
        handler = self._handler(request.type or _type_of(request.urn), context)
        olds, news = from_struct(request.olds), from_struct(request.news)
        if request.preview:
            return provider_pb2.UpdateResponse(properties=request.news)
        changed = changed_attrs(handler.resource, olds, news, set(request.ignoreChanges))
        change = Change(new=reveal(news), old=reveal(olds), changed=changed)
        _, state = self._call(context, lambda: handler.update(request.id, change))
        return provider_pb2.UpdateResponse(properties=self._outputs(handler, state, news))

    def Delete(self, request: provider_pb2.DeleteRequest, context: Any) -> empty_pb2.Empty:
        handler = self._handler(request.type or _type_of(request.urn), context)
        state = reveal(from_struct(request.properties))
        self._call(context, lambda: handler.delete(request.id, state))
        return empty_pb2.Empty()

    def _call(self, context: Any, operation: Callable[[], Any]) -> Any:
        try:
            return operation()
        except (ProviderError, psycopg.Error) as error:
            context.abort(grpc.StatusCode.UNKNOWN, str(error))

    def _outputs(self, handler: Handler, state: dict[str, Any], inputs: dict[str, Any]) -> struct_pb2.Struct:
        """The outputs, sensitive attributes and secret inputs kept secret (the bridge marks
        Sensitive attributes secret; the SDK asks for additionalSecretOutputs password too)."""
        outputs = handler.outputs(reveal(state))
        for key, value in outputs.items():
            attr = handler.resource.attrs[key]
            if value is not None and (attr.sensitive or isinstance(inputs.get(key), Secret)):
                outputs[key] = Secret(value)
        return to_struct(outputs)


def _type_of(urn: str) -> str:
    """The type token from a URN: urn:pulumi:stack::project::parent$type::name."""
    return urn.split("::")[2].rpartition("$")[2] if urn.count("::") >= 3 else ""


def schema_json() -> str:
    """A minimal Pulumi package schema: the reproduced resources and their properties."""
    import json

    types = {"string": "string", "int": "integer", "bool": "boolean", "set": "array", "list": "array"}

    def spec(attr: Attr) -> dict[str, Any]:
        out: dict[str, Any] = {"type": types[attr.kind]}
        if attr.kind in ("set", "list"):
            out["items"] = {"type": "string"}
        if attr.sensitive:
            out["secret"] = True
        if attr.default is not None:
            out["default"] = attr.default
        return out

    resources = {}
    for resource in RESOURCES.values():
        inputs = {key: spec(attr) for key, attr in resource.attrs.items()}
        resources[resource.token] = {
            "inputProperties": inputs,
            "properties": {key: value for key, value in inputs.items() if not resource.attrs[key].write_only},
            "requiredInputs": [
                key
                for key, attr in resource.attrs.items()
                if attr.required and not (resource.autonamed and key == "name")
            ],
            "required": [key for key, attr in resource.attrs.items() if not attr.write_only],
        }
    config = {key: spec(attr) for key, attr in CONFIG_ATTRS.items()}
    return json.dumps(
        {
            "name": PACKAGE,
            "version": VERSION,
            "description": "A stand-in for pulumi-postgresql 3.18.2 (tests/engine/postgresql_provider.py)",
            "config": {"variables": config},
            "provider": {"inputProperties": config},
            "resources": resources,
        }
    )


# ----------------------------------------------------------------------------- serving


def serve() -> None:
    server: Any = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=GRPC_OPTIONS)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(PostgresqlProvider(), server)
    port: int = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")  # the engine reads the port from the first line of stdout
    sys.stdout.flush()
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    parent = os.getppid()
    while not done.wait(timeout=1.0):
        if os.getppid() != parent:  # the engine is gone
            break
    server.stop(grace=None)


if __name__ == "__main__":
    if sys.argv[1:2] in (["-version"], ["--version"]):
        print(VERSION)
    else:
        serve()
