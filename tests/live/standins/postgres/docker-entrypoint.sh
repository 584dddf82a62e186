#!/bin/bash
# The stand-in's entrypoint: the upstream image's documented variables for a first start, nothing
# more (CONTRACT.md lists what is left out). The Patroni image replaces it with its own.
set -euo pipefail

# VAR_FILE, when set, supplies VAR (a secret as a file, never in the environment).
from_file() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        echo "both $var and $file_var are set; set one" >&2
        exit 1
    fi
    if [ -n "${!file_var:-}" ]; then
        export "$var"="$(<"${!file_var}")"
    else
        export "$var"="${!var:-$default}"
    fi
    unset "$file_var"
}

run_init_files() {
    local file
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
            *.sh) echo "running $file"; bash "$file" ;;
            *.sql) echo "running $file"; psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname "$POSTGRES_DB" -f "$file" ;;
            *.sql.gz) echo "running $file"; gunzip -c "$file" | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname "$POSTGRES_DB" ;;
            */\*) ;;
            *) echo "ignoring $file" ;;
        esac
    done
}

init_cluster() {
    from_file POSTGRES_PASSWORD
    from_file POSTGRES_USER postgres
    from_file POSTGRES_DB "$POSTGRES_USER"
    from_file POSTGRES_INITDB_ARGS
    local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
        echo "the database is uninitialized: set POSTGRES_PASSWORD (or _FILE), or POSTGRES_HOST_AUTH_METHOD=trust" >&2
        exit 1
    fi
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
    printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

    # Init files run against a server that listens on its socket only.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres \
            --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    PGPASSWORD=$POSTGRES_PASSWORD run_init_files
    pg_ctl -D "$PGDATA" -m fast -w stop
}

if [ "${1:0:1}" = - ]; then
    set -- postgres "$@"
fi

# postgres --help, --version, --describe-config and the like start no server: nothing to set up.
wants_no_server() {
    local arg
    for arg in "$@"; do
        case "$arg" in -'?' | --help | --describe-config | -V | --version | -C) return 0 ;; esac
    done
    return 1
}

if [ "$1" = postgres ] && ! wants_no_server "$@"; then
    if [ "$(id -u)" = 0 ]; then
        install -d -o postgres -g postgres -m 0700 "$PGDATA"
        exec gosu postgres "$BASH_SOURCE" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        chmod 0700 "$PGDATA"
        init_cluster
    fi
fi

exec "$@"
