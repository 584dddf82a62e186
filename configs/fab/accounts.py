"""Creates the accounts listed in a JSON file in Superset's or Airflow's user database (both are
Flask-AppBuilder's), or gives an existing one the listed password and role again.

    python accounts.py superset|airflow FILE

Run by the init jobs (components/analytics/). The passwords are read from FILE, a 0400 upload,
because the `superset fab` and `airflow users` commands take them as arguments, and a command line
is readable by every process on the host (`ps`). FILE holds {"accounts": [{"username",
"first_name", "last_name", "email", "role", "password"}, ...]}. Other roles a user was given by
hand, or by a single sign-on login, are left alone.
"""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def security_manager(app: str) -> Iterator[Any]:
    if app == "superset":
        from superset.app import create_app

        with create_app().app_context():
            from superset import security_manager as superset_security_manager

            yield superset_security_manager
    elif app == "airflow":
        from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

        with get_application_builder() as appbuilder:
            yield appbuilder.sm
    else:
        sys.exit(f"accounts.py: unknown app {app!r}; expected superset or airflow")


def ensure(sm: Any, account: dict[str, str]) -> str:
    username = account["username"]
    role = sm.find_role(account["role"])
    if role is None:
        sys.exit(f"accounts.py: role {account['role']!r} of {username!r} does not exist")
    user = sm.find_user(username=username)
    if user is None:
        created = sm.add_user(
            username, account["first_name"], account["last_name"], account["email"], role, account["password"]
        )
        if not created:
            sys.exit(f"accounts.py: {username!r} could not be created (see the log above)")
        return f"{username}: created with role {role.name}"
    # Flask-AppBuilder's returns None, Airflow's True; both return False on an error they log.
    if sm.reset_password(user.id, account["password"]) is False:
        sys.exit(f"accounts.py: the password of {username!r} could not be set (see the log above)")
    if role not in user.roles:
        user.roles.append(role)
        if sm.update_user(user) is False:
            sys.exit(f"accounts.py: {username!r} could not be given role {role.name} (see the log above)")
        return f"{username}: password set, role {role.name} given back"
    return f"{username}: password set"


def main(app: str, path: str) -> None:
    accounts = json.loads(Path(path).read_text())["accounts"]
    with security_manager(app) as sm:
        for account in accounts:
            print(ensure(sm, account), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
