#!/bin/bash
# The stand-in's connect-distributed.sh (CONTRACT.md, "Launchers"): a Kafka Connect worker in
# distributed mode with the given worker properties, in the foreground; Kafka 4's defaults for its
# log configuration (config/connect-log4j2.yaml) and heap (-Xms256M -Xmx2G) unless
# KAFKA_LOG4J_OPTS / KAFKA_HEAP_OPTS say otherwise (the entrypoint sets both).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "USAGE: $0 connect-distributed.properties" >&2
    exit 1
fi
bin=$(cd "$(dirname "$0")" && pwd)
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$bin/../config/connect-log4j2.yaml}
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256M -Xmx2G}
exec "$bin/kafka-run-class.sh" -name connectDistributed org.apache.kafka.connect.cli.ConnectDistributed "$@"
