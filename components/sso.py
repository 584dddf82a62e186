"""Single sign-on clients: what a UI needs to log in through Keycloak.

The security layer creates one OIDC client per UI in the `datalyptica` realm. A UI's layer
receives its `OidcClient` (or None when the security layer is not enabled, and then keeps its
own local admin login).
"""

from dataclasses import dataclass

import pulumi

REALM = "datalyptica"


@dataclass(frozen=True)
class OidcClient:
    client_id: str
    client_secret: pulumi.Output[str]  # secret
    issuer_url: str  # as the user's browser reaches Keycloak, e.g. http://localhost:8280/realms/datalyptica
    internal_issuer_url: str  # as containers reach it, e.g. http://keycloak:8080/realms/datalyptica
