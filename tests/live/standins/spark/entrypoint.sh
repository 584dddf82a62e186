#!/bin/bash
# The stand-in's /opt/entrypoint.sh. Upstream's (apache/spark-docker 4.1.2/*/entrypoint.sh) starts a
# Kubernetes driver or executor when the first argument is `driver` or `executor`, and otherwise
# runs the command as given ("pass-through mode"): `exec "$@"`, no tini, so the command is PID 1.
# Only pass-through is provided: nothing here runs Spark on Kubernetes.
set -eo pipefail

case "${1:-}" in
    driver | executor)
        echo "entrypoint.sh: '$1' (Spark on Kubernetes) is not provided by this stand-in" >&2
        exit 64
        ;;
esac

# Upstream exports these two when set (a no-op for variables already in the environment) and
# derives SPARK_DIST_CLASSPATH from a Hadoop installation when HADOOP_HOME names one.
if [ -n "${HADOOP_HOME:-}" ] && [ -z "${SPARK_DIST_CLASSPATH:-}" ]; then
    SPARK_DIST_CLASSPATH="$("$HADOOP_HOME/bin/hadoop" classpath)"
    export SPARK_DIST_CLASSPATH
fi

exec "$@"
