"""SecurityLayer: Keycloak, with the `datalyptica` realm and one OIDC client per UI.

The clients (ids, generated secrets, redirect URIs, networks) come from `SsoClients`, built
before the UIs. A one-shot job (`keycloak-realm`, the image's kcadm.sh) makes the realm what the
program defines once Keycloak is healthy, and again whenever that definition changes: Keycloak's
own `--import-realm` skips a realm that exists, so a UI added later, a moved host or a rotated
client secret never reached it.
"""

import json
from collections.abc import Sequence

import pulumi

from components import secrets
from components.analytics_configs import ADMINS_GROUP, GROUPS_CLAIM, USERS_GROUP
from components.layer import Layer
from components.platform import Platform
from components.service import File, HealthCheck, InitJob, Metrics, Port, Server, Service, ServiceArgs
from components.sso import (
    ADMIN_ROLE,
    FIRST_ADMIN_USER,
    KEYCLOAK_HOST,
    KEYCLOAK_HTTP_PORT,
    REALM,
    OidcClient,
    SsoClients,
)
from components.storage import StorageLayer
from components.templates import render_output, static_config

KEYCLOAK_MANAGEMENT_PORT = 9000  # health and metrics
KEYCLOAK_UID = "1000"  # the keycloak user of quay.io/keycloak/keycloak
CONFIG_PATH = "/opt/keycloak/conf/keycloak.conf"
REALM_JOB = "keycloak-realm"
REALM_JOB_DIR = "/opt/keycloak/data/realm-job"


def realm_settings() -> str:
    """The realm's own settings, as `kcadm.sh create realms` and `update realms/<realm>` take them."""
    return _json(
        {
            "realm": REALM,
            "enabled": True,
            "sslRequired": "external",  # plain HTTP from private addresses only (the platform has no TLS yet)
            "registrationAllowed": False,
            "bruteForceProtected": True,
        }
    )


def realm_resources() -> str:
    """What the realm job creates when missing and then leaves to people (a partial import that
    skips what exists): the admin role, the admins' and users' groups, and the first admin."""
    return _json(
        {
            "roles": {"realm": [{"name": ADMIN_ROLE, "description": "Administers the Datalyptica UIs"}]},
            "groups": [
                {"name": ADMINS_GROUP, "path": f"/{ADMINS_GROUP}", "realmRoles": [ADMIN_ROLE]},
                {"name": USERS_GROUP, "path": f"/{USERS_GROUP}"},
            ],
            "users": [_first_admin()],
        }
    )


def realm_clients(clients: Sequence[OidcClient], client_names: dict[str, str], client_secrets: list[str]) -> str:
    """The clients, overwritten by every run of the realm job: confidential, code flow only."""
    return _json(
        {
            "clients": [
                _client(client, client_names[client.client_id], secret)
                for client, secret in zip(clients, client_secrets, strict=True)
            ]
        }
    )


def first_admin_credential(password: str) -> str:
    """The first admin's password, as Keycloak's reset-password endpoint takes it."""
    return _json({"type": "password", "value": password, "temporary": False})


def _json(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True)


IN_EVERY_TOKEN = {"id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true"}


def _client(client: OidcClient, name: str, secret: str) -> dict:
    origin = client.redirect_uri.split("/", 3)
    ui_origin = "/".join(origin[:3])
    return {
        "clientId": client.client_id,
        "name": name,
        "protocol": "openid-connect",
        "enabled": True,
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": secret,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "rootUrl": ui_origin,
        "redirectUris": [client.redirect_uri],
        "webOrigins": [ui_origin],
        "attributes": {"post.logout.redirect.uris": f"{ui_origin}/*"},
        # The user's realm roles (`roles`) and group names (`groups`, which Flask-AppBuilder and
        # oauthenticator read from userinfo) as plain claims, so each UI maps them to its own roles.
        "protocolMappers": [
            {
                "name": "realm roles",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-usermodel-realm-role-mapper",
                "config": {"claim.name": "roles", "multivalued": "true", "jsonType.label": "String", **IN_EVERY_TOKEN},
            },
            {
                "name": "group names",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-group-membership-mapper",
                "config": {"claim.name": GROUPS_CLAIM, "full.path": "false", **IN_EVERY_TOKEN},
            },
        ],
    }


def _first_admin() -> dict:
    """The first member of the admins' group (its password is set apart, from the stack's secret).
    Keycloak's user profile requires an email and a first and last name: a user without them is
    sent to a form to fill them in at the first login."""
    return {
        "username": FIRST_ADMIN_USER,
        "enabled": True,
        "email": f"{FIRST_ADMIN_USER}@{REALM}.invalid",
        "emailVerified": True,
        "firstName": "Platform",
        "lastName": "Admin",
        "groups": [f"/{ADMINS_GROUP}"],
    }


class SecurityLayer(Layer):
    layer = "security"

    def __init__(self, platform: Platform, storage: StorageLayer, clients: SsoClients):
        """Needs only storage's PostgreSQL: it is built between `StorageLayer` and its `open_lake`."""
        super().__init__(platform)
        database = storage.database("keycloak", parent=self)
        self.admin_user = secrets.username("keycloak-admin-user", parent=self)
        self.admin_password = secrets.password("keycloak-admin-password", parent=self)
        self.first_admin_password = secrets.password("platform-admin-password", parent=self)

        # Keycloak reads conf/keycloak.conf besides its environment. The bootstrap admin options
        # are ordinary configuration options (Keycloak's "Bootstrapping and recovering an admin
        # account" guide), so they go in this file with the database password, not in the
        # container's environment where `docker inspect` would show them.
        config = render_output(
            "keycloak/keycloak.conf.j2",
            database=database.template_values(),
            admin_user=self.admin_user,
            admin_password=self.admin_password,
        )
        oidc_clients = clients.clients()
        self.keycloak = self.service(
            KEYCLOAK_HOST,
            ServiceArgs(
                spec=self.spec("keycloak"),
                lifecycle=Server(
                    HealthCheck.http_via_bash(KEYCLOAK_MANAGEMENT_PORT, "/health/ready", start_period="90s")
                ),
                networks=[storage.network, *[client.network for client in oidc_clients if client.network]],
                uses=[database],
                command=["start"],
                env={
                    "KC_HOSTNAME": clients.keycloak_url,
                    # Token, userinfo and JWKS endpoints as the caller reached Keycloak: containers
                    # use http://keycloak:8080 while browsers get the published URL.
                    "KC_HOSTNAME_BACKCHANNEL_DYNAMIC": "true",
                    "KC_HTTP_ENABLED": "true",
                    "KC_HTTP_PORT": str(KEYCLOAK_HTTP_PORT),
                    "KC_HEALTH_ENABLED": "true",
                    "KC_METRICS_ENABLED": "true",
                },
                files=[File(CONFIG_PATH, config, secret=True, owner=KEYCLOAK_UID)],
                ports=[Port("keycloak", KEYCLOAK_HTTP_PORT)],
                metrics=Metrics(KEYCLOAK_MANAGEMENT_PORT, "/metrics"),
            ),
        )
        self.realm = self._realm_job(storage, clients, oidc_clients)
        self.extra_urls = {
            "keycloak_admin_console": platform.url("keycloak", path="/admin/"),
            "keycloak_issuer": clients.issuer_url,
        }
        self.credentials = {
            "keycloak_admin_user": self.admin_user,
            "keycloak_admin_password": self.admin_password,
            "platform_admin_user": FIRST_ADMIN_USER,
            "platform_admin_password": self.first_admin_password,
        }
        self.finish()

    def _realm_job(self, storage: StorageLayer, clients: SsoClients, oidc_clients: Sequence[OidcClient]) -> Service:
        """The job that makes the realm what this program defines (configs/keycloak/reconcile-realm.sh)
        once Keycloak is healthy. A changed client, redirect URI, secret or realm setting changes
        one of its files, so `pulumi preview` shows the job replaced and `up` runs it again."""
        client_secrets = pulumi.Output.all(*[client.client_secret for client in oidc_clients])
        names = {cid: login.name for cid, login in clients.logins.items()}

        def file(name: str, content: pulumi.Input[str], *, secret: bool = False, executable: bool = False) -> File:
            return File(f"{REALM_JOB_DIR}/{name}", content, secret=secret, owner=KEYCLOAK_UID, executable=executable)

        return self.service(
            REALM_JOB,
            ServiceArgs(
                spec=self.spec("keycloak").init_job(REALM_JOB),
                lifecycle=InitJob(),
                networks=[storage.network],
                entrypoint=["/bin/bash"],
                command=[
                    f"{REALM_JOB_DIR}/reconcile-realm.sh",
                    f"http://{KEYCLOAK_HOST}:{KEYCLOAK_HTTP_PORT}",
                    REALM,
                    FIRST_ADMIN_USER,
                    ADMINS_GROUP,
                ],
                files=[
                    file("reconcile-realm.sh", static_config("keycloak/reconcile-realm.sh"), executable=True),
                    file("admin-user", self.admin_user, secret=True),
                    file("admin-password", self.admin_password, secret=True),
                    file("realm.json", realm_settings()),
                    file("resources.json", realm_resources()),
                    file(
                        "clients.json",
                        client_secrets.apply(lambda values: realm_clients(oidc_clients, names, list(values))),
                        secret=True,
                    ),
                    file(
                        "first-admin-credential.json",
                        self.first_admin_password.apply(first_admin_credential),
                        secret=True,
                    ),
                ],
                depends_on=[self.keycloak.container],
            ),
        )
