"""The roles Flask-AppBuilder gives an OAuth login, computed by FAB itself: a throwaway app on
SQLite with the given AUTH_* settings, its roles created, then the security manager's own
role calculation for each userinfo's `role_keys` (what FAB reads from Keycloak's `groups`).

Run with the Python of a venv holding flask-appbuilder:
`python fab_login_roles.py '{"AUTH_ROLES_MAPPING": ..., "AUTH_USER_REGISTRATION_ROLE": ..., "cases": {...}}'`
"""

import json
import sys

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_appbuilder.const import AUTH_OAUTH
from flask_appbuilder.utils.legacy import get_sqla_class

given = json.loads(sys.argv[1])
app = Flask("fab-login-roles")
app.config.update(
    SECRET_KEY="only-for-this-check",
    SQLALCHEMY_DATABASE_URI="sqlite://",
    AUTH_TYPE=AUTH_OAUTH,
    AUTH_USER_REGISTRATION=True,
    AUTH_USER_REGISTRATION_ROLE=given["AUTH_USER_REGISTRATION_ROLE"],
    AUTH_ROLES_MAPPING=given["AUTH_ROLES_MAPPING"],
    AUTH_ROLES_SYNC_AT_LOGIN=given["AUTH_ROLES_SYNC_AT_LOGIN"],
    OAUTH_PROVIDERS=[],
)
with app.app_context():
    db = get_sqla_class()(app)
    builder = AppBuilder(app, db.session)
    security = builder.sm
    wanted = {
        given["AUTH_USER_REGISTRATION_ROLE"],
        *(r for roles in given["AUTH_ROLES_MAPPING"].values() for r in roles),
    }
    for role in sorted(wanted):
        if security.find_role(role) is None:
            security.add_role(role)
    roles = {
        case: sorted(role.name for role in security._oauth_calculate_user_roles({"role_keys": keys}))
        for case, keys in given["cases"].items()
    }
    print(json.dumps({"roles": roles, "sync_at_login": security.auth_roles_sync_at_login}))
