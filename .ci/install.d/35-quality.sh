# Great Expectations with the Trino dialect, so the tests can have GX itself load the gx/
# project. Run by .ci/run (set -euo pipefail, VENV set); safe to run again. Its own venv, with
# the same ranges as images/great-expectations/Dockerfile.

quality_install() {
    local venv=/opt/gx-venv log
    log=$(mktemp)
    if ! { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } >"$log" 2>&1 \
        || ! "$venv/bin/pip" install --disable-pip-version-check \
            'great_expectations>=1.11,<1.12' 'trino[sqlalchemy]>=0.330,<1' >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
    "$venv/bin/python" -c 'import great_expectations, trino.sqlalchemy'
}

quality_install
unset -f quality_install
