# Helpers for .ci/install.d/*.sh; .ci/run sources this into each script's own subshell.
# Every helper is safe to run again: it checks first and does only what is missing.

# quietly COMMAND...: run it with its output kept aside; show the output only if it fails.
quietly() {
    local log status=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || status=$?
    [ "$status" -eq 0 ] || cat "$log" >&2
    rm -f "$log"
    return "$status"
}

# apt_install PACKAGE...: install the Debian packages that are missing. Their daemons are kept
# from starting (policy-rc.d exit 101): the tests start what they need on their own ports.
apt_install() {
    local package missing=() policy=/usr/sbin/policy-rc.d ours="" status=0
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && ours=1
    fi
    { quietly apt-get update &&
        quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } \
        || status=$?
    [ -z "$ours" ] || rm -f "$policy"
    return "$status"
}

# checker_venv DIR PACKAGE...: a venv under DIR with exactly these packages, for a program that
# checks our rendered files (its dependencies must not meet the program's). Rebuilt from
# nothing when the package list changes. $CHECKER_PYTHON picks the interpreter (default python3).
checker_venv() {
    local dir=$1
    shift
    local stamp="$dir/.datalyptica-packages"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ] && [ -x "$dir/bin/python" ]; then
        return 0
    fi
    rm -rf "$dir" &&
        quietly "${CHECKER_PYTHON:-python3}" -m venv "$dir" &&
        quietly "$dir/bin/pip" install --disable-pip-version-check --upgrade pip &&
        quietly "$dir/bin/pip" install --disable-pip-version-check "$@" &&
        printf '%s' "$*" >"$stamp"
}
