"""SecurityLayer: Keycloak, with the `datalyptica` realm and one OIDC client per UI.

The clients (ids, generated secrets, redirect URIs, networks) come from `SsoClients`, built
before the UIs; this layer imports them into the realm when Keycloak first starts.
"""

import json
from collections.abc import Sequence

import pulumi

from components import secrets
from components.analytics_configs import ADMINS_GROUP, GROUPS_CLAIM, USERS_GROUP
from components.layer import Layer
from components.platform import Platform
from components.service import File, HealthCheck, Metrics, Port, Server, ServiceArgs
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
from components.templates import render_output

KEYCLOAK_MANAGEMENT_PORT = 9000  # health and metrics
KEYCLOAK_UID = "1000"  # the keycloak user of quay.io/keycloak/keycloak
CONFIG_PATH = "/opt/keycloak/conf/keycloak.conf"
REALM_IMPORT_PATH = f"/opt/keycloak/data/import/{REALM}-realm.json"


def realm_document(
    clients: Sequence[OidcClient], client_names: dict[str, str], client_secrets: list[str], first_admin_password: str
) -> str:
    """The realm as `kc.sh start --import-realm` reads it: confidential clients, code flow only;
    the admins' and users' groups, and a first admin in the admins' group."""
    return json.dumps(
        {
            "realm": REALM,
            "enabled": True,
            "sslRequired": "external",  # plain HTTP from private addresses only (the platform has no TLS yet)
            "registrationAllowed": False,
            "bruteForceProtected": True,
            "roles": {"realm": [{"name": ADMIN_ROLE, "description": "Administers the Datalyptica UIs"}]},
            "groups": [
                {"name": ADMINS_GROUP, "path": f"/{ADMINS_GROUP}", "realmRoles": [ADMIN_ROLE]},
                {"name": USERS_GROUP, "path": f"/{USERS_GROUP}"},
            ],
            "users": [_first_admin(first_admin_password)],
            "clients": [
                _client(client, client_names[client.client_id], secret)
                for client, secret in zip(clients, client_secrets, strict=True)
            ],
        },
        indent=2,
        sort_keys=True,
    )


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


def _first_admin(password: str) -> dict:
    """The first member of the admins' group. Keycloak's user profile requires an email and a first
    and last name: a user without them is sent to a form to fill them in at the first login."""
    return {
        "username": FIRST_ADMIN_USER,
        "enabled": True,
        "email": f"{FIRST_ADMIN_USER}@{REALM}.invalid",
        "emailVerified": True,
        "firstName": "Platform",
        "lastName": "Admin",
        "credentials": [{"type": "password", "value": password, "temporary": False}],
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
        realm = pulumi.Output.all(self.first_admin_password, *[client.client_secret for client in oidc_clients]).apply(
            lambda values: realm_document(
                oidc_clients,
                {cid: login.name for cid, login in clients.logins.items()},
                list(values[1:]),
                first_admin_password=values[0],
            )
        )
        self.keycloak = self.service(
            KEYCLOAK_HOST,
            ServiceArgs(
                spec=self.spec("keycloak"),
                lifecycle=Server(
                    HealthCheck.http_via_bash(KEYCLOAK_MANAGEMENT_PORT, "/health/ready", start_period="90s")
                ),
                networks=[storage.network, *[client.network for client in oidc_clients if client.network]],
                uses=[database],
                command=["start", "--import-realm"],
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
                files=[
                    File(CONFIG_PATH, config, secret=True, owner=KEYCLOAK_UID),
                    # Holds the client secrets. Imported only while the realm does not exist yet.
                    File(REALM_IMPORT_PATH, realm, secret=True, owner=KEYCLOAK_UID),
                ],
                ports=[Port("keycloak", KEYCLOAK_HTTP_PORT)],
                metrics=Metrics(KEYCLOAK_MANAGEMENT_PORT, "/metrics"),
            ),
        )
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
