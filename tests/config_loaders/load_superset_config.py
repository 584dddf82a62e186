"""Imports superset.config with SUPERSET_CONFIG_PATH set, as Superset does, and prints what it
resolved as JSON; the caches and Celery app are built from it as Superset builds them.

Run with the Python of a venv holding apache-superset: `python load_superset_config.py`.
"""

import json

from celery import Celery
from flask import Flask
from flask_caching import Cache
from superset import config
from url_parts import url_parts

app = Flask("superset-config-check")
caches = {name: Cache(app, config=getattr(config, name)) for name in ("CACHE_CONFIG", "DATA_CACHE_CONFIG")}
celery = Celery(config_source=config.CELERY_CONFIG)


print(
    json.dumps(
        {
            "superset_version": config.VERSION_STRING,
            "secret_key": config.SECRET_KEY,
            "db": url_parts(config.SQLALCHEMY_DATABASE_URI),
            "caches": {
                name: {"backend": type(cache.cache).__name__, "db": getattr(config, name)["CACHE_REDIS_DB"]}
                for name, cache in caches.items()
            },
            "results_backend": type(config.RESULTS_BACKEND).__name__,
            "celery": {
                "broker_url": celery.conf.broker_url,
                "result_backend": celery.conf.result_backend,
                "imports": list(celery.conf.imports),
            },
            "auth_type": config.AUTH_TYPE,
            "oauth_providers": getattr(config, "OAUTH_PROVIDERS", None),
            "fab_login_roles": {
                key: getattr(config, key, None)
                for key in ("AUTH_ROLES_MAPPING", "AUTH_USER_REGISTRATION_ROLE", "AUTH_ROLES_SYNC_AT_LOGIN")
            },
        }
    )
)
