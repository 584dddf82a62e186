"""Registers the data sources listed in a JSON file ({"name": "SQLAlchemy URI", ...}) in Superset,
or gives an existing one the listed URI again.

    python databases.py FILE

Run by Superset's init job (components/analytics/superset.py). The URIs hold passwords, so they
come from FILE, a 0400 upload, instead of `superset set-database-uri` arguments that `ps` shows.
"""

import json
import sys
from pathlib import Path


def main(path: str) -> None:
    databases = json.loads(Path(path).read_text())
    from superset.app import create_app

    with create_app().app_context():
        from superset import db
        from superset.utils.database import get_or_create_db

        for name in databases:
            get_or_create_db(name, databases[name])
            print(f"database {name}: registered", flush=True)
        db.session.commit()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
