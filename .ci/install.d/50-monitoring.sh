# Checkers for the monitoring layer's rendered files: promtool (prometheus.yml, rule files)
# and amtool (alertmanager.yml), from Debian's prometheus and prometheus-alertmanager.
# Run by .ci/run under `set -euo pipefail`; safe to run again. Only the tools are wanted:
# the packages' daemons are kept from starting (policy-rc.d) and stopped if one did.

monitoring_quietly() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

monitoring_install() {
    local package missing="" policy=/usr/sbin/policy-rc.d our_policy=""
    for package in prometheus prometheus-alertmanager; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        if [ ! -e "$policy" ]; then
            # 101 = "action forbidden": invoke-rc.d then starts no service during the install.
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 0755 "$policy"
            our_policy=1
        fi
        monitoring_quietly apt-get update
        # shellcheck disable=SC2086
        if ! monitoring_quietly env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y --no-install-recommends $missing; then
            [ -z "$our_policy" ] || rm -f "$policy"
            return 1
        fi
        [ -z "$our_policy" ] || rm -f "$policy"
    fi
    for service in prometheus prometheus-alertmanager; do
        service "$service" stop >/dev/null 2>&1 || true
    done
    promtool --version >/dev/null
    amtool --version >/dev/null
}

monitoring_install
