#!/bin/bash
# The stand-in's start script, at the path of the upstream base image's run-java.sh and with the
# behaviour Nessie's docs describe for it (CONTRACT.md): JAVA_OPTS, if set, replaces every generated
# option; otherwise the generated options come first and JAVA_OPTS_APPEND after them. Java runs in
# JAVA_APP_DIR as PID 1, so `docker stop` reaches Quarkus' shutdown hooks.
set -euo pipefail

app_dir=${JAVA_APP_DIR:-/deployments}

generated_options() {
    local ratio=${JAVA_MAX_MEM_RATIO:-80}
    if [ "$ratio" != 0 ]; then
        printf -- '-XX:MaxRAMPercentage=%.0f.0 ' "$ratio"
    fi
    printf -- '%s ' "${GC_CONTAINER_OPTIONS:--XX:+UseParallelGC}" \
        "-XX:MinHeapFreeRatio=${GC_MIN_HEAP_FREE_RATIO:-10}" \
        "-XX:MaxHeapFreeRatio=${GC_MAX_HEAP_FREE_RATIO:-20}" \
        "-XX:GCTimeRatio=${GC_TIME_RATIO:-4}" \
        "-XX:AdaptiveSizePolicyWeight=${GC_ADAPTIVE_SIZE_POLICY_WEIGHT:-90}" \
        -XX:+ExitOnOutOfMemoryError
    if [ -n "${JAVA_OPTS_APPEND:-}" ]; then
        printf -- '%s' "$JAVA_OPTS_APPEND"
    fi
}

if [ "${JAVA_OPTS+set}" = set ]; then
    options=$JAVA_OPTS
else
    options=$(generated_options)
fi

cd "$app_dir"
echo "INFO running ${JAVA_APP_JAR} in ${PWD}"
# Word splitting of $options is wanted: it holds several options, as upstream's does.
# shellcheck disable=SC2086
exec -a "${JAVA_APP_NAME:-java}" java $options -cp . -jar "$JAVA_APP_JAR" "$@"
