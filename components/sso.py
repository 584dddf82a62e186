"""Single sign-on clients: what a UI needs to log in through Keycloak.

The security layer creates one OIDC client per UI in the `datalyptica` realm. A UI's layer
receives its `OidcClient` (or None when the security layer is not enabled, and then keeps its
own local admin login).

`SsoClients` is built early in __main__, before any UI: it generates each client's secret and
the network on which that UI reaches Keycloak, so the UIs are configured without waiting for
Keycloak, and the security layer's realm job later puts the very same clients into the realm.
A UI that reads the discovery document when it starts (MinIO) is created after the security
layer and waits for the realm job, which components/graph.py hands it (StorageLayer.open_lake).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import catalog, secrets
from components.platform import Platform

REALM = "datalyptica"
KEYCLOAK_HOST = "keycloak"
KEYCLOAK_HTTP_PORT = 8080
ADMIN_ROLE = "platform-admin"  # realm role a UI maps to its own admin role (roles claim)
# The realm's first member of ADMINS_GROUP, with a generated password (stack output platform_admin_*).
FIRST_ADMIN_USER = "admin"


@dataclass(frozen=True)
class OidcClient:
    client_id: str
    client_secret: pulumi.Output[str]  # secret
    issuer_url: str  # as the user's browser reaches Keycloak, e.g. http://localhost:8280/realms/datalyptica
    internal_issuer_url: str  # as containers reach it, e.g. http://keycloak:8080/realms/datalyptica
    redirect_uri: str = ""  # the one callback the realm accepts for this client: the UI must send exactly it
    network: docker.Network | None = None  # the UI joins it to reach internal_issuer_url (Keycloak is on it)

    @property
    def discovery_url(self) -> str:
        return f"{self.internal_issuer_url}/.well-known/openid-configuration"


@dataclass(frozen=True)
class UiLogin:
    """A UI that logs in through Keycloak: its client id, published port and OAuth callback path."""

    client_id: str
    port_name: str  # the UI's published port: the service that owns it must be deployed
    callback_path: str
    name: str


# Callback paths are each UI's own: Grafana's generic OAuth, Flask-AppBuilder's provider
# callback (Superset at the root, Airflow 3's FAB auth manager under /auth) with provider name
# "keycloak", oauthenticator's /hub/oauth_callback, the MinIO console's /oauth_callback.
UI_LOGINS: tuple[UiLogin, ...] = (
    UiLogin("grafana", "grafana", "/login/generic_oauth", "Grafana"),
    UiLogin("superset", "superset", "/oauth-authorized/keycloak", "Superset"),
    UiLogin("jupyterhub", "jupyterhub", "/hub/oauth_callback", "JupyterHub"),
    UiLogin("airflow", "airflow", "/auth/oauth-authorized/keycloak", "Airflow"),
    UiLogin("minio-console", "minio-console", "/oauth_callback", "MinIO console"),
)


class SsoClients(pulumi.ComponentResource):
    """One OIDC client per UI that the stack deploys and whose port it publishes.

    A UI whose port is not published cannot be reached by a browser, so it gets no client
    (`client()` returns None) and keeps its local login.
    """

    def __init__(self, platform: Platform, *, opts: pulumi.ResourceOptions | None = None):
        super().__init__("datalyptica:security:SsoClients", "sso-clients", None, opts)
        settings = platform.settings
        browser_base = platform.url("keycloak")
        assert browser_base is not None, "the settings refuse a stack that does not publish ports.keycloak"
        self.keycloak_url = browser_base
        self.issuer_url = f"{browser_base}/realms/{REALM}"
        self.internal_issuer_url = f"http://{KEYCLOAK_HOST}:{KEYCLOAK_HTTP_PORT}/realms/{REALM}"

        self.logins: dict[str, UiLogin] = {}
        self._clients: dict[str, OidcClient] = {}
        for login in UI_LOGINS:
            ui_url = platform.url(login.port_name)
            if not settings.deploys(catalog.port_owner(login.port_name)) or ui_url is None:
                continue
            self.logins[login.client_id] = login
            self._clients[login.client_id] = OidcClient(
                client_id=login.client_id,
                client_secret=secrets.password(f"{login.client_id}-oidc-client-secret", parent=self, length=40),
                issuer_url=self.issuer_url,
                internal_issuer_url=self.internal_issuer_url,
                redirect_uri=f"{ui_url}{login.callback_path}",
                network=platform.network(f"sso-{login.client_id}", parent=self),
            )
        self.register_outputs({"clients": list(self._clients)})

    def client(self, client_id: str) -> OidcClient | None:
        return self._clients.get(client_id)

    def clients(self) -> Sequence[OidcClient]:
        return list(self._clients.values())
