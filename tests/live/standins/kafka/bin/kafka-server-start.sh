#!/bin/bash
# The stand-in's kafka-server-start.sh (CONTRACT.md, "Launchers"): kafka.Kafka with the given
# server.properties, in the foreground; the broker's log configuration and a 1 GB heap unless
# KAFKA_LOG4J_OPTS / KAFKA_HEAP_OPTS say otherwise; GC log as kafkaServer-gc.log.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "USAGE: $0 server.properties [--override property=value]*" >&2
    exit 1
fi
bin=$(cd "$(dirname "$0")" && pwd)
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$bin/../config/log4j2.yaml}
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
exec "$bin/kafka-run-class.sh" -name kafkaServer -loggc kafka.Kafka "$@"
