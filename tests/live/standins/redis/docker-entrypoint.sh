#!/bin/sh
# The stand-in's entrypoint: what the upstream image's does for the commands the program runs.
set -e

# Options or a *.conf file alone mean redis-server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

# Started as root, redis-server gets /data and drops to the redis user.
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec gosu redis "$0" "$@"
fi

# Files Redis writes are private unless the container asked for another umask.
if [ "$(umask)" = 0022 ]; then
    umask 0077
fi

exec "$@"
