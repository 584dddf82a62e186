"""The security layer (Keycloak, realm, OIDC clients) and the UIs' SSO wiring, under mocks."""

import json
import re

import pulumi
import pytest

from components.settings import load_settings
from components.sso import UI_LOGINS
from harness.offline import engine_config, run_program, stack_config
from tests.secret_files import private_to

UIS = {"grafana", "superset", "jupyterhub", "airflow", "minio-console"}


def upload(container, path: str) -> dict:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


def env(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.inputs.get("envs", []))


JOB_DIR = "/opt/keycloak/data/realm-job"


def job_file(deployment, name: str) -> dict:
    return json.loads(upload(deployment.containers()["keycloak-realm"], f"{JOB_DIR}/{name}")["content"])


def realm(deployment) -> dict:
    """The realm as the realm job makes it: its settings, its resources and its clients."""
    return {
        **job_file(deployment, "realm.json"),
        **job_file(deployment, "resources.json"),
        **job_file(deployment, "clients.json"),
    }


def clients(deployment) -> dict[str, dict]:
    return {client["clientId"]: client for client in realm(deployment)["clients"]}


def expected_redirects(config: dict) -> dict[str, str]:
    """Each UI's callback as a browser reaches it, from the stack's own settings."""
    settings = load_settings(config)
    return {
        login.client_id: f"http://{settings.endpoint_host}:{settings.host_port(login.port_name)}{login.callback_path}"
        for login in UI_LOGINS
    }


def stack_file_config(stack: str) -> dict:
    return {
        key.removeprefix("datalyptica:"): json.loads(value) if value[:1] in "[{" else value
        for key, value in stack_config(stack).items()
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_ui_has_a_client_whose_redirect_is_the_uis_real_url(stack, request):
    deployment = request.getfixturevalue(stack)
    found = clients(deployment)
    assert set(found) == UIS
    for client_id, redirect in expected_redirects(stack_file_config(stack)).items():
        assert found[client_id]["redirectUris"] == [redirect], client_id
        assert found[client_id]["publicClient"] is False and found[client_id]["standardFlowEnabled"] is True
        assert found[client_id]["directAccessGrantsEnabled"] is False


def test_redirects_follow_the_stacks_ports_and_endpoint_host(deploy):
    config = {
        "endpointHost": "data.example.internal",
        "ports": {"grafana": 3300, "minio-console": 9101},
        "protectData": False,
    }
    deployment = deploy(**config)
    found = clients(deployment)
    for client_id, redirect in expected_redirects(config).items():
        assert found[client_id]["redirectUris"] == [redirect]
    assert found["grafana"]["redirectUris"] == ["http://data.example.internal:3300/login/generic_oauth"]
    assert env(deployment.containers()["keycloak"])["KC_HOSTNAME"] == "http://data.example.internal:8280"


def test_a_ui_without_a_published_port_gets_no_client(deploy):
    deployment = deploy(ports={"superset": None}, protectData=False)
    assert set(clients(deployment)) == UIS - {"superset"}


def test_clients_exist_only_for_enabled_layers(deploy):
    deployment = deploy(layers=["storage", "security"], protectData=False)
    assert set(clients(deployment)) == {"minio-console"}


def test_security_without_a_published_keycloak_port_is_refused():
    with pytest.raises(pulumi.RunError, match=re.escape("datalyptica:ports.keycloak")):
        run_program(engine_config({"layers": ["storage", "security"], "ports": {"keycloak": None}}))


def test_keycloak_runs_start_with_its_health_and_browser_hostname(dev):
    keycloak = dev.containers()["keycloak"]
    assert keycloak.inputs["command"] == ["start"]  # the realm job, not --import-realm, makes the realm
    variables = env(keycloak)
    assert variables["KC_HOSTNAME"] == "http://localhost:8280"
    assert variables["KC_HTTP_ENABLED"] == "true" and variables["KC_HEALTH_ENABLED"] == "true"
    assert variables["KC_HOSTNAME_BACKCHANNEL_DYNAMIC"] == "true"
    check = keycloak.inputs["healthcheck"]["tests"]
    assert check[1] == "bash" and "/dev/tcp/127.0.0.1/9000" in check[-1] and "/health/ready" in check[-1]
    assert {(p["internal"], p["external"]) for p in keycloak.inputs["ports"]} == {(8080, 8280)}
    assert keycloak.inputs["memory"] == 1024


def test_keycloak_secrets_are_files_for_its_user_not_environment(dev):
    keycloak = dev.containers()["keycloak"]
    assert private_to(keycloak, "/opt/keycloak/conf/keycloak.conf", "1000")
    assert "uploads" in keycloak.secret_inputs() and "envs" not in keycloak.secret_inputs()
    config = upload(keycloak, "/opt/keycloak/conf/keycloak.conf")["content"]
    lines = dict(line.split("=", 1) for line in config.splitlines() if line and not line.startswith("#"))
    assert lines["db"] == "postgres" and lines["db-url"] == "jdbc:postgresql://haproxy:5000/keycloak"
    assert lines["db-username"] == "keycloak" and lines["db-password"] in dev.generated_secrets
    assert lines["bootstrap-admin-password"] in dev.generated_secrets
    assert lines["bootstrap-admin-username"] in dev.outputs["keycloak_admin_user"]
    for name in env(keycloak):
        assert "PASSWORD" not in name and "SECRET" not in name, name


def test_keycloak_has_its_own_database_and_waits_for_it(dev):
    role = dev.named("keycloak-db-role", "postgresql:index/role:Role")
    database = dev.named("keycloak-database", "postgresql:index/database:Database")
    assert role.inputs["name"] == "keycloak" and database.inputs["owner"] == "keycloak"
    keycloak = dev.containers()["keycloak"]
    assert {role.urn, database.urn} <= set(keycloak.dependencies)
    chain = [r.type for r in dev.ancestors(keycloak)]
    assert chain[:2] == ["datalyptica:platform:Service", "datalyptica:security:SecurityLayer"]


def test_the_realm_carries_the_same_secrets_the_uis_are_given(dev):
    found = clients(dev)
    for client in found.values():
        assert client["secret"] in dev.generated_secrets
    assert len({client["secret"] for client in found.values()}) == len(found)
    grafana = dev.containers()["grafana"]
    assert upload(grafana, "/etc/grafana/secrets/oauth-client-secret")["content"] == found["grafana"]["secret"]
    minio = upload(dev.containers()["minio"], "/etc/minio/config.env")["content"]
    assert f"MINIO_IDENTITY_OPENID_CLIENT_SECRET={found['minio-console']['secret']}" in minio


def test_the_realm_has_the_admins_and_users_groups_and_a_first_admin_with_the_exported_password(dev):
    document = realm(dev)
    groups = {group["name"]: group for group in document["groups"]}
    assert set(groups) == {"platform-admins", "platform-users"}
    assert groups["platform-admins"]["realmRoles"] == ["platform-admin"]  # Grafana's Admin (roles claim)
    [admin] = document["users"]
    assert admin["username"] == dev.outputs["platform_admin_user"] == "admin"
    assert admin["groups"] == ["/platform-admins"]
    assert "credentials" not in admin  # set apart, so a password people changed is set back by every run
    credential = job_file(dev, "first-admin-credential.json")
    assert credential == {"type": "password", "value": dev.outputs["platform_admin_password"], "temporary": False}
    assert credential["value"] in dev.generated_secrets
    # Keycloak's user profile requires these; without them the first login stops at a form.
    assert admin["email"] and admin["firstName"] and admin["lastName"] and admin["emailVerified"]
    for name in ("platform_admin_user", "platform_admin_password"):
        assert name in dev.secret_outputs


def test_every_client_sends_group_names_and_realm_roles_in_userinfo(dev):
    for client in clients(dev).values():
        mappers = {mapper["protocolMapper"]: mapper["config"] for mapper in client["protocolMappers"]}
        groups = mappers["oidc-group-membership-mapper"]
        assert groups["claim.name"] == "groups" and groups["full.path"] == "false"
        assert groups["userinfo.token.claim"] == "true"  # Flask-AppBuilder and oauthenticator read userinfo
        assert mappers["oidc-usermodel-realm-role-mapper"]["claim.name"] == "roles"


def test_grafana_logs_in_through_keycloak_and_keeps_its_admin(dev):
    grafana = dev.containers()["grafana"]
    variables = env(grafana)
    assert variables["GF_AUTH_GENERIC_OAUTH_ENABLED"] == "true"
    assert variables["GF_AUTH_GENERIC_OAUTH_CLIENT_ID"] == "grafana"
    assert variables["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE"] == "/etc/grafana/secrets/oauth-client-secret"
    assert variables["GF_AUTH_GENERIC_OAUTH_AUTH_URL"] == (
        "http://localhost:8280/realms/datalyptica/protocol/openid-connect/auth"
    )
    assert variables["GF_AUTH_GENERIC_OAUTH_TOKEN_URL"] == (
        "http://keycloak:8080/realms/datalyptica/protocol/openid-connect/token"
    )
    assert variables["GF_SERVER_ROOT_URL"] == "http://localhost:3000"
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE" in variables
    assert private_to(grafana, "/etc/grafana/secrets/oauth-client-secret", "472")


def test_minio_console_logs_in_through_keycloak_and_starts_after_it(dev):
    minio = dev.containers()["minio"]
    config = upload(minio, "/etc/minio/config.env")["content"]
    discovery = "http://keycloak:8080/realms/datalyptica/.well-known/openid-configuration"
    assert f"MINIO_IDENTITY_OPENID_CONFIG_URL={discovery}" in config
    assert "MINIO_IDENTITY_OPENID_CLIENT_ID=minio-console" in config
    assert "MINIO_IDENTITY_OPENID_REDIRECT_URI=http://localhost:9001/oauth_callback" in config
    assert "MINIO_IDENTITY_OPENID_ROLE_POLICY=readwrite" in config
    assert dev.containers()["keycloak-realm"].urn in minio.dependencies  # the realm exists once it is done


def test_each_ui_reaches_keycloak_on_its_own_network(dev):
    containers = dev.containers()

    def joined(name):
        return {n["name"] for n in containers[name].inputs["networksAdvanced"]}

    assert {f"datalyptica-sso-{ui}" for ui in UIS} | {"datalyptica-storage"} == joined("keycloak")
    assert "datalyptica-sso-grafana" in joined("grafana") and "datalyptica-sso-minio-console" in joined("minio")
    assert "datalyptica-sso-minio-console" not in joined("grafana")


def test_without_security_the_uis_keep_their_local_logins(deploy):
    deployment = deploy(layers=["storage", "monitoring"], protectData=False)
    containers = deployment.containers()
    assert "keycloak" not in containers
    assert not any(name.startswith("GF_AUTH_GENERIC_OAUTH") for name in env(containers["grafana"]))
    assert "OPENID" not in upload(containers["minio"], "/etc/minio/config.env")["content"]
    assert not deployment.of_type("datalyptica:security:SsoClients")


def test_keycloak_outputs_are_urls_and_secret_admin_credentials(dev):
    assert dev.outputs["keycloak_url"] == "http://localhost:8280"
    assert dev.outputs["keycloak_issuer_url"] == "http://localhost:8280/realms/datalyptica"
    assert dev.not_secret_or_empty("keycloak_admin_user", "keycloak_admin_password") == []


def test_prod_keycloak_has_prod_sizes_and_no_plain_secrets(prod):
    keycloak = prod.containers()["keycloak"]
    assert keycloak.inputs["memory"] == 2048 and keycloak.inputs["cpus"] == "2.0"
    assert prod.plaintext_leaks() == []


def test_the_realm_job_runs_kcadm_in_keycloaks_image_after_keycloak_is_healthy(dev):
    containers = dev.containers()
    job, keycloak = containers["keycloak-realm"], containers["keycloak"]
    assert job.inputs["image"] == keycloak.inputs["image"]
    assert keycloak.urn in job.dependencies
    assert job.inputs["entrypoints"] == ["/bin/bash"]
    assert job.inputs["command"] == [
        f"{JOB_DIR}/reconcile-realm.sh",
        "http://keycloak:8080",
        "datalyptica",
        "admin",
        "platform-admins",
    ]
    assert job.inputs["memory"] == 256 and job.inputs["mustRun"] is False


def test_the_realm_jobs_secrets_are_files_only_its_user_reads(dev):
    job = dev.containers()["keycloak-realm"]
    for name in ("admin-user", "admin-password", "clients.json", "first-admin-credential.json"):
        assert private_to(job, f"{JOB_DIR}/{name}", "1000"), name
    assert upload(job, f"{JOB_DIR}/admin-password")["content"] in dev.generated_secrets
    argv = " ".join(job.inputs["command"])
    for secret in dev.generated_secrets:
        assert secret not in argv
    assert not job.inputs.get("envs")


def test_a_moved_host_changes_the_realm_jobs_clients_and_so_runs_it_again(deploy):
    before = job_file(deploy(protectData=False), "clients.json")
    after = job_file(deploy(endpointHost="data.example.internal", protectData=False), "clients.json")
    redirects = {c["clientId"]: c["redirectUris"] for c in after["clients"]}
    assert redirects != {c["clientId"]: c["redirectUris"] for c in before["clients"]}
    assert redirects["airflow"] == ["http://data.example.internal:8090/auth/oauth-authorized/keycloak"]
