#!/bin/sh
# The stand-in's entrypoint: the behaviour of the official image's /entrypoint.sh that the
# program relies on (CONTRACT.md), written for Debian (setpriv instead of Alpine's su-exec).
set -eu

# Go's FIPS 140-3 mode, on by default in the official image.
export GODEBUG="${GODEBUG:+$GODEBUG,}fips140=on"

# Started as root: make the seaweed user own /data (a fresh volume is root's), then drop to it.
if [ "$(id -u)" = 0 ]; then
    if [ "$(stat -c %u:%g /data)" != "$(id -u seaweed):$(id -g seaweed)" ]; then
        chown -R seaweed:seaweed /data
    fi
    exec setpriv --reuid=seaweed --regid=seaweed --init-groups "$0" "$@"
fi

passed() {  # passed FLAG ARGS...: whether ARGS hold -FLAG or --FLAG, alone or as -FLAG=value
    flag=$1
    shift
    for arg in "$@"; do
        case $arg in
            "-$flag" | "--$flag" | "-$flag="* | "--$flag="*) return 0 ;;
        esac
    done
    return 1
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
    server)
        if passed volume.max "$@"; then
            exec /usr/bin/weed -logtostderr=true server -dir=/data -master.volumeSizeLimitMB=1024 "$@"
        fi
        exec /usr/bin/weed -logtostderr=true server -dir=/data -volume.max=0 -master.volumeSizeLimitMB=1024 "$@"
        ;;
    mini)
        if passed dir "$@"; then
            exec /usr/bin/weed -logtostderr=true mini "$@"
        fi
        exec /usr/bin/weed -logtostderr=true mini -dir=/data "$@"
        ;;
    *)
        exec /usr/bin/weed "$command" "$@"
        ;;
esac
