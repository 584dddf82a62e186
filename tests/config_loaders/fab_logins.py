"""Logs each account of an accounts file in, with the app's own password check, and prints what
the app answered as JSON: {"logins": {username: [roles] or null}, "wrong_password": [usernames let
in with a wrong password], "databases": {name: the parts of its URI} (Superset only)}.

Run with the Python of the app's venv, after its init: `python fab_logins.py superset|airflow
ACCOUNTS_SCRIPT ACCOUNTS_FILE` (ACCOUNTS_SCRIPT: configs/fab/accounts.py, whose app context this
borrows).
"""

import importlib.util
import json
import sys
from pathlib import Path

from flask import current_app
from url_parts import url_parts

app, script, accounts_file = sys.argv[1:4]
spec = importlib.util.spec_from_file_location("fab_accounts", script)
assert spec and spec.loader
accounts_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(accounts_module)

accounts = json.loads(Path(accounts_file).read_text())["accounts"]
with accounts_module.security_manager(app) as sm, current_app.test_request_context():
    # Airflow's password check rotates the session id of the request it serves: a test request here.
    logins = {}
    for account in accounts:
        user = sm.auth_user_db(account["username"], account["password"])
        logins[account["username"]] = None if user is None else sorted(role.name for role in user.roles)
    wrong = [a["username"] for a in accounts if sm.auth_user_db(a["username"], a["password"] + "x") is not None]
    databases = {}
    if app == "superset":
        from superset import db
        from superset.models.core import Database

        databases = {d.database_name: url_parts(d.sqlalchemy_uri_decrypted) for d in db.session.query(Database)}
print(json.dumps({"logins": logins, "wrong_password": wrong, "databases": databases}))
