#!/bin/sh
# As the upstream image's entrypoint: options alone mean haproxy's, and haproxy runs in the
# foreground in master-worker mode (-W, reload on SIGUSR2; -db, no daemon).
set -e

case "$1" in
    -*) set -- haproxy "$@" ;;
esac

if [ "$1" = haproxy ]; then
    shift
    set -- haproxy -W -db "$@"
fi

exec "$@"
