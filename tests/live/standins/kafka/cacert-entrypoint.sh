#!/bin/sh
# The stand-in's ENTRYPOINT at the path of eclipse-temurin's (CONTRACT.md, "Start"): Temurin's
# script can add certificates to the JVM's trust store when USE_SYSTEM_CA_CERTS is set; the stand-in
# only says it does not, then runs the command it was given.
if [ -n "${USE_SYSTEM_CA_CERTS:-}" ]; then
    echo "stand-in: USE_SYSTEM_CA_CERTS is not supported, the JVM's own trust store is used" >&2
fi
exec "$@"
