"""A SQLAlchemy URL's parts as the loaders print them (imported from beside them: each loader
runs as a script, so this folder is first on its path)."""

from sqlalchemy.engine import make_url


def url_parts(url: str) -> dict:
    parsed = make_url(url)
    return {
        "drivername": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "database": parsed.database,
        "username": parsed.username,
        "password": parsed.password,
    }
