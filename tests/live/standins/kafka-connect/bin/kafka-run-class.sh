#!/bin/bash
# The stand-in's kafka-run-class.sh (CONTRACT.md, "Launchers"): one class of /kafka/libs on the JVM,
# in the foreground, with the variables Kafka 4's script reads and its defaults:
#   KAFKA_HEAP_OPTS             default -Xmx256M
#   KAFKA_JVM_PERFORMANCE_OPTS  default G1 with a 20 ms pause goal (below)
#   KAFKA_JMX_OPTS, JMX_PORT    JMX on without auth or TLS; a port only with JMX_PORT
#   KAFKA_LOG4J_OPTS            default config/tools-log4j2.yaml; a Log4j 1.x file (log4j.*.properties
#                               or .xml) turns on Log4j 2's 1.x compatibility (LOG4J_COMPATIBILITY)
#   LOG_DIR                     default <home>/logs, passed as -Dkafka.logs.dir
#   KAFKA_OPTS                  appended last
# Not carried over: -daemon, -loggc, KAFKA_DEBUG, Cygwin, CLASSPATH from a source tree.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "USAGE: $0 [-name servicename] classname [opts]" >&2
    exit 1
fi

home=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
    case "$1" in
        -name) shift 2 ;;
        -loggc) shift ;;
        *) break ;;
    esac
done

: "${LOG_DIR:=$home/logs}"
mkdir -p "$LOG_DIR" 2>/dev/null || true

heap=${KAFKA_HEAP_OPTS:--Xmx256M}
performance=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
jmx=${KAFKA_JMX_OPTS:--Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false}
if [ -n "${JMX_PORT:-}" ]; then
    jmx="$jmx -Dcom.sun.management.jmxremote.port=$JMX_PORT"
fi
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$home/config/tools-log4j2.yaml}
if [[ $log4j =~ log4j\.[^[:space:]]+(\.properties|\.xml)$ ]]; then
    export LOG4J_COMPATIBILITY=true
    echo "DEPRECATED: A Log4j 1.x configuration file has been detected, which is no longer recommended." >&2
fi

java=java
[ -n "${JAVA_HOME:-}" ] && java=$JAVA_HOME/bin/java

# The option strings are word-split on purpose, as Kafka's script does.
# shellcheck disable=SC2086
exec "$java" $heap $performance $jmx -Dkafka.logs.dir="$LOG_DIR" $log4j -cp "$home/libs/*" ${KAFKA_OPTS:-} "$@"
