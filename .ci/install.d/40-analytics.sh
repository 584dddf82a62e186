# The programs that read the Analytics & ML layer's rendered files (tests/test_analytics_configs.py),
# each in its own venv: their dependency trees clash with each other and with Pulumi's.
# Versions match images/*/Dockerfile. Superset and Airflow are the long ones: side by side.
# Superset's init runs for real in its venv: `rich` (its CLI imports it) and Flask-Caching before
# 2.4 (2.4 passes its cache an argument Superset 6.1.0's does not take) as in the release image.
checker_venv /opt/superset-venv apache-superset==6.1.0 'psycopg2-binary==2.9.*' 'authlib>=1.3,<2' \
    rich cachetools 'flask-caching<2.4' &
superset=$!
checker_venv /opt/airflow-venv apache-airflow==3.3.2 apache-airflow-providers-celery \
    'apache-airflow-providers-fab[oauth]' apache-airflow-providers-postgres &
airflow=$!
checker_venv /opt/jupyterhub-venv jupyterhub==5.4.3 dockerspawner==14.0.0 oauthenticator==17.4.0 \
    jupyterhub-nativeauthenticator==1.3.0 'psycopg2-binary==2.9.*'
wait "$superset"
wait "$airflow"
