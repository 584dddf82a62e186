#!/bin/bash
# The stand-in's kafka-run-class.sh (CONTRACT.md, "Launchers"): runs one class of /opt/kafka/libs on
# the JVM in the foreground, with the variables Kafka's own script reads and its defaults:
#   KAFKA_HEAP_OPTS             default -Xmx256M
#   KAFKA_JVM_PERFORMANCE_OPTS  default G1 with a 20 ms pause goal (the whole set below)
#   KAFKA_JMX_OPTS, JMX_PORT    JMX on; a port only when JMX_PORT is set
#   KAFKA_LOG4J_OPTS            default config/tools-log4j2.yaml (a tool logs to the console)
#   KAFKA_GC_LOG_OPTS, LOG_DIR  GC log in LOG_DIR (default /opt/kafka/logs) with `-name N -loggc`
#   KAFKA_OPTS                  appended last
# Not carried over: -daemon, KAFKA_DEBUG, Cygwin handling, CLASSPATH from a source tree.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "USAGE: $0 [-name servicename] [-loggc] classname [opts]" >&2
    exit 1
fi

home=$(cd "$(dirname "$0")/.." && pwd)
name=""
gc_log=false
while [ $# -gt 0 ]; do
    case "$1" in
        -name) name=$2; shift 2 ;;
        -loggc) gc_log=true; shift ;;
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
    [ -n "${JMX_RMI_PORT:-}" ] && jmx="$jmx -Dcom.sun.management.jmxremote.rmi.port=$JMX_RMI_PORT"
fi
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$home/config/tools-log4j2.yaml}
log4j="-Dkafka.logs.dir=$LOG_DIR $log4j"
gc=""
if $gc_log && [ -n "$name" ]; then
    gc=${KAFKA_GC_LOG_OPTS:--Xlog:gc*:file=$LOG_DIR/$name-gc.log:time,tags:filecount=10,filesize=100M}
fi

java=java
[ -n "${JAVA_HOME:-}" ] && java=$JAVA_HOME/bin/java

# The option strings are word-split on purpose, as Kafka's script does.
# shellcheck disable=SC2086
exec "$java" $heap $performance $gc $jmx $log4j -cp "$home/libs/*" ${KAFKA_OPTS:-} "$@"
