#!/bin/bash
# The start script of Red Hat's openjdk-21-runtime images (ubi9 under Nessie, ubi10 under Apicurio
# Registry), at their path, with the behaviour CONTRACT.md describes: JAVA_OPTS, if set, replaces
# every generated option; otherwise the generated options come first and JAVA_OPTS_APPEND after
# them (JAVA_OPTIONS, which Apicurio's Dockerfile sets, is read by neither). Without JAVA_APP_JAR
# the jar is found as upstream finds it: quarkus-app/quarkus-run.jar, else the one *.jar in
# JAVA_APP_DIR. Java runs in JAVA_APP_DIR as PID 1, so `docker stop` reaches Quarkus' shutdown hooks.
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

find_jar() {
    if [ -f "$app_dir/quarkus-app/quarkus-run.jar" ]; then
        echo "quarkus-app/quarkus-run.jar"
        return
    fi
    local jars=()
    local jar
    for jar in "$app_dir"/*.jar; do
        [ -f "$jar" ] || continue
        case "${jar##*/}" in original-*) continue ;; esac
        jars+=("${jar##*/}")
    done
    if [ "${#jars[@]}" != 1 ]; then
        echo "ERROR Neither \$JAVA_MAIN_CLASS nor \$JAVA_APP_JAR is set and ${#jars[@]} JARs found in $app_dir (1 expected)" >&2
        exit 1
    fi
    echo "${jars[0]}"
}

jar=${JAVA_APP_JAR:-$(find_jar)}
case "$jar" in
    /*) ;;
    *) jar="$app_dir/$jar" ;;
esac
if [ ! -f "$jar" ]; then
    echo "ERROR No such file $jar" >&2
    exit 1
fi
export JAVA_APP_DIR=$app_dir JAVA_APP_JAR=$jar

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
