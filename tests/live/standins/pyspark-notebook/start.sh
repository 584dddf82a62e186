#!/bin/bash
# The stand-in's start.sh: runs the command it is given as the image's user (upstream's also
# renames the user, runs hooks and may grant sudo, driven by variables the program never sets).
set -e
if [ "$(id -u)" = 0 ]; then
    exec sudo --preserve-env --set-home --user "$NB_USER" PATH="$PATH" "$@"
fi
exec "$@"
