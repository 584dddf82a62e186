#!/usr/bin/env bash
# The stand-in's entrypoint: the behaviour of flink-docker's docker-entrypoint.sh (2.2) that the
# program relies on (CONTRACT.md), written for this image. Started as the image's user (flink).
set -euo pipefail

conf_dir="$FLINK_HOME/conf"

if [ "$(id -u)" = 0 ]; then
    echo "WARNING: Running as root user is not recommended. Please use a non-root user to run Flink."
fi

# jemalloc as the allocator unless DISABLE_JEMALLOC=true.
if [ "${DISABLE_JEMALLOC:-false}" = false ]; then
    jemalloc="/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so"
    if [ -f "$jemalloc" ]; then
        export LD_PRELOAD="${LD_PRELOAD:-}:$jemalloc"
    else
        echo "WARNING: $jemalloc not found; glibc's allocator is used"
    fi
fi

# ENABLE_BUILT_IN_PLUGINS="a.jar;b.jar": each jar of opt/ linked into plugins/<jar without .jar>/.
if [ -n "${ENABLE_BUILT_IN_PLUGINS:-}" ]; then
    for jar in ${ENABLE_BUILT_IN_PLUGINS//;/ }; do
        if [ ! -e "$FLINK_HOME/opt/$jar" ]; then
            echo "Plugin $jar does not exist. Exiting."
            exit 1
        fi
        mkdir -p "$FLINK_HOME/plugins/${jar%.jar}"
        ln -fs "$FLINK_HOME/opt/$jar" "$FLINK_HOME/plugins/${jar%.jar}"
        echo "Successfully enabled $jar"
    done
fi

# conf/config.yaml rewritten in place with the options below, then FLINK_PROPERTIES' "key: value"
# lines (values through envsubst), by the distribution's own config-parser-utils.sh.
options=(
    "-Djobmanager.rpc.address=${JOB_MANAGER_RPC_ADDRESS:-$(hostname -f)}"
    "-Dblob.server.port=6124"
    "-Dquery.server.port=6125"
)
if [ -n "${TASK_MANAGER_NUMBER_OF_TASK_SLOTS:-}" ]; then
    options+=("-Dtaskmanager.numberOfTaskSlots=$TASK_MANAGER_NUMBER_OF_TASK_SLOTS")
fi
while IFS= read -r line; do
    line="${line//[[:space:]]/}"
    [ -n "$line" ] || continue
    options+=("-D${line%%:*}=$(envsubst <<<"${line#*:}")")
done <<<"${FLINK_PROPERTIES:-}"
"$FLINK_HOME/bin/config-parser-utils.sh" "$conf_dir" "$FLINK_HOME/bin" "$FLINK_HOME/lib" "${options[@]}"

case "${1:-help}" in
    help)
        echo "Usage: $(basename "$0") (jobmanager|standalone-job|taskmanager|history-server), or any command"
        ;;
    jobmanager) shift; exec "$FLINK_HOME/bin/jobmanager.sh" start-foreground "$@" ;;
    standalone-job) shift; exec "$FLINK_HOME/bin/standalone-job.sh" start-foreground "$@" ;;
    taskmanager) shift; exec "$FLINK_HOME/bin/taskmanager.sh" start-foreground "$@" ;;
    history-server) shift; exec "$FLINK_HOME/bin/historyserver.sh" start-foreground "$@" ;;
    *) exec "$@" ;;
esac
