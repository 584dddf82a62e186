"""Loads a jupyterhub_config.py the way JupyterHub does and prints what it resolved, as JSON.

Run with the Python of a venv holding jupyterhub, dockerspawner, oauthenticator and
jupyterhub-nativeauthenticator: `python load_jupyterhub_config.py CONFIG_FILE [ADMIN_PASSWORD]`;
with ADMIN_PASSWORD it also reports whether the admin can log in with it.
"""

import asyncio
import json
import logging
import sys
from types import SimpleNamespace

from jupyterhub import __version__ as jupyterhub_version
from jupyterhub import orm
from jupyterhub.app import JupyterHub
from jupyterhub.proxy import ConfigurableHTTPProxy
from url_parts import url_parts

messages = []


class KeepMessages(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        messages.append(record.getMessage())


app = JupyterHub()
app.log.addHandler(KeepMessages())
app.load_config_file(sys.argv[1])

# The classes are resolved and built as the hub builds them; a user stands in for a real one.
spawner = app.spawner_class(parent=app, user=SimpleNamespace(name="alice", id=1))
# NativeAuthenticator creates its table at start: give it a throwaway database session, as the
# hub gives it its own (the real one is PostgreSQL, not reachable here).
authenticator = app.authenticator_class(parent=app, _deprecated_db_session=orm.new_session_factory("sqlite://")())
proxy = ConfigurableHTTPProxy(parent=app)


admin_login = None
if len(sys.argv) > 2:
    admin = sorted(authenticator.admin_users)[0]
    handler = SimpleNamespace(request=SimpleNamespace(remote_ip="127.0.0.1"))
    # What the login handler calls: the authenticator's own check, then JupyterHub's allow rules.
    authenticated = asyncio.run(
        authenticator.get_authenticated_user(handler, {"username": admin, "password": sys.argv[2]})
    )
    admin_login = authenticated and authenticated["name"]


async def login_by_groups(groups: list[str]) -> dict:
    """What the OAuth authenticator decides for a user whose userinfo carries `groups`: the steps
    its authenticate() takes after the token exchange (groups, admin status, the allow rules)."""
    model = {"name": "ada", "admin": None, "auth_state": {authenticator.user_auth_state_key: {"groups": groups}}}
    model = await authenticator._apply_managed_groups(await authenticator.update_auth_model(model))
    return {"admin": bool(model["admin"]), "allowed": await authenticator.check_allowed("ada", model)}


# The handler of /hub/login's form, where the authenticator brings its own (NativeAuthenticator).
login_handler = dict(authenticator.get_handlers(app)).get(r"/login")

group_logins = None
if hasattr(authenticator, "auth_state_groups_key"):
    cases = {"admins": ["platform-admins"], "users": ["platform-users"], "neither": ["someone-else"], "none": []}
    group_logins = {case: asyncio.run(login_by_groups(groups)) for case, groups in cases.items()}

print(
    json.dumps(
        {
            "jupyterhub_version": jupyterhub_version,
            "spawner_class": f"{type(spawner).__module__}.{type(spawner).__name__}",
            "authenticator_class": f"{type(authenticator).__module__}.{type(authenticator).__name__}",
            "network_name": spawner.network_name,
            "use_internal_ip": spawner.use_internal_ip,
            "volume_binds": spawner.volume_binds,
            "container_name": spawner.object_name,
            "notebook_dir": spawner.notebook_dir,
            "image": spawner.image,
            "mem_limit": spawner.mem_limit,
            "cpu_limit": spawner.cpu_limit,
            "environment": spawner.environment,
            "admin_users": sorted(authenticator.admin_users),
            "oauth_callback_url": getattr(authenticator, "oauth_callback_url", None),
            "token_url": getattr(authenticator, "token_url", None),
            "proxy_auth_token": proxy.auth_token,
            "hub_ip": app.hub_ip,
            "hub_connect_ip": app.hub_connect_ip,
            "hub_port": app.hub_port,
            "cookie_secret_file": app.cookie_secret_file,
            "db": url_parts(app.db_url),
            "active_server_limit": app.active_server_limit,
            "authenticate_prometheus": app.authenticate_prometheus,
            "admin_login": admin_login,
            "login_handler": login_handler and [f"{c.__module__}.{c.__name__}" for c in login_handler.__mro__[:2]],
            "group_logins": group_logins,
            "unrecognized": [m for m in messages if "not recognized" in m],
        }
    )
)
