#!/bin/bash
# The stand-in's /docker-entrypoint.sh: the behaviour of debezium/container-images
# connect-base/3.6/docker-entrypoint.sh (CONTRACT.md, "Entrypoint"), written for the stand-in.
#   start      configure the worker from the environment, then exec connect-distributed.sh
#   otherwise  exec the arguments
set -e

: "${SENSITIVE_PROPERTIES:=CONNECT_SASL_JAAS_CONFIG,CONNECT_CONSUMER_SASL_JAAS_CONFIG,CONNECT_PRODUCER_SASL_JAAS_CONFIG,CONNECT_SSL_KEYSTORE_PASSWORD,CONNECT_PRODUCER_SSL_KEYSTORE_PASSWORD,CONNECT_SSL_TRUSTSTORE_PASSWORD,CONNECT_PRODUCER_SSL_TRUSTSTORE_PASSWORD,CONNECT_SSL_KEY_PASSWORD,CONNECT_PRODUCER_SSL_KEY_PASSWORD,CONNECT_CONSUMER_SSL_TRUSTSTORE_PASSWORD,CONNECT_CONSUMER_SSL_KEYSTORE_PASSWORD,CONNECT_CONSUMER_SSL_KEY_PASSWORD}"

# Brokers: BOOTSTRAP_SERVERS, else those of legacy Docker links (…PORT_9092_TCP=tcp://host:port),
# else 0.0.0.0:9092.
if [[ -z "$BOOTSTRAP_SERVERS" ]]; then
    BOOTSTRAP_SERVERS=$(env | sed -n 's|^[^=]*PORT_9092_TCP=tcp://||p' | uniq | paste -sd ,)
fi
if [[ -z "$BOOTSTRAP_SERVERS" ]]; then
    export BOOTSTRAP_SERVERS=0.0.0.0:9092
fi
echo "Using BOOTSTRAP_SERVERS=$BOOTSTRAP_SERVERS"

# The address of the last interface `ip addr` lists as BROADCAST-capable (eth0 in a container).
if [[ -z "$HOST_NAME" ]]; then
    HOST_NAME=$(ip addr | grep 'BROADCAST' -A2 | tail -n1 | awk '{print $2}' | cut -f1 -d'/')
fi

: "${REST_PORT:=8083}"
: "${REST_HOST_NAME:=$HOST_NAME}"
: "${ADVERTISED_PORT:=8083}"
: "${ADVERTISED_HOST_NAME:=$HOST_NAME}"
: "${GROUP_ID:=1}"
: "${OFFSET_FLUSH_INTERVAL_MS:=60000}"
: "${OFFSET_FLUSH_TIMEOUT_MS:=5000}"
: "${SHUTDOWN_TIMEOUT:=10000}"
: "${KEY_CONVERTER:=org.apache.kafka.connect.json.JsonConverter}"
: "${VALUE_CONVERTER:=org.apache.kafka.connect.json.JsonConverter}"
: "${ENABLE_APICURIO_CONVERTERS:=false}"
: "${ENABLE_DEBEZIUM_KC_REST_EXTENSION:=false}"
: "${ENABLE_DEBEZIUM_SCRIPTING:=false}"
: "${ENABLE_JOLOKIA:=false}"
: "${ENABLE_OTEL:=false}"
: "${ENABLE_CHRONICLE_QUEUE:=false}"

# APICURIO_REGISTRY=<url>: Apicurio's Avro converter for keys and values, registering schemas.
if [[ -n "$APICURIO_REGISTRY" ]]; then
    ENABLE_APICURIO_CONVERTERS=true
    KEY_CONVERTER=io.apicurio.registry.utils.converter.AvroConverter
    VALUE_CONVERTER=io.apicurio.registry.utils.converter.AvroConverter
    for side in KEY VALUE; do
        export "CONNECT_${side}_CONVERTER_APICURIO_REGISTRY_URL=$APICURIO_REGISTRY"
        export "CONNECT_${side}_CONVERTER_APICURIO_REGISTRY_AUTO_REGISTER=true"
        export "CONNECT_${side}_CONVERTER_APICURIO_REGISTRY_FIND_LATEST=true"
    done
fi

# The short names become the worker's CONNECT_* settings (empty topics too: `start` checks them).
export CONNECT_REST_ADVERTISED_PORT=$ADVERTISED_PORT
export CONNECT_REST_ADVERTISED_HOST_NAME=$ADVERTISED_HOST_NAME
export CONNECT_REST_PORT=$REST_PORT
export CONNECT_REST_HOST_NAME=$REST_HOST_NAME
export CONNECT_BOOTSTRAP_SERVERS=$BOOTSTRAP_SERVERS
export CONNECT_GROUP_ID=$GROUP_ID
export CONNECT_CONFIG_STORAGE_TOPIC=$CONFIG_STORAGE_TOPIC
export CONNECT_OFFSET_STORAGE_TOPIC=$OFFSET_STORAGE_TOPIC
[[ -n "$STATUS_STORAGE_TOPIC" ]] && export CONNECT_STATUS_STORAGE_TOPIC=$STATUS_STORAGE_TOPIC
export CONNECT_KEY_CONVERTER=$KEY_CONVERTER
export CONNECT_VALUE_CONVERTER=$VALUE_CONVERTER
export CONNECT_TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS=$SHUTDOWN_TIMEOUT
export CONNECT_OFFSET_FLUSH_INTERVAL_MS=$OFFSET_FLUSH_INTERVAL_MS
export CONNECT_OFFSET_FLUSH_TIMEOUT_MS=$OFFSET_FLUSH_TIMEOUT_MS
[[ -n "$HEAP_OPTS" ]] && export KAFKA_HEAP_OPTS=$HEAP_OPTS
unset HOST_NAME REST_PORT REST_HOST_NAME ADVERTISED_PORT ADVERTISED_HOST_NAME GROUP_ID \
    OFFSET_FLUSH_INTERVAL_MS OFFSET_FLUSH_TIMEOUT_MS SHUTDOWN_TIMEOUT KEY_CONVERTER VALUE_CONVERTER \
    HEAP_OPTS MD5HASH SCALA_VERSION

# The image starts with CONNECT_PLUGIN_PATH empty; the worker's plugin.path is then the plugins dir.
# (CONNECT_PLUGIN_PATH is in the environment, so the new value is exported with it.)
if [[ -z "$CONNECT_PLUGIN_PATH" ]]; then
    CONNECT_PLUGIN_PATH=$KAFKA_CONNECT_PLUGINS_DIR
fi
echo "Plugins are loaded from $CONNECT_PLUGIN_PATH"

# An optional library set under $EXTERNAL_LIBS_DIR/<folder>: when enabled, symbolic links to its
# files go into every plugin folder of the first plugin.path entry (each connector's class loader
# then sees them); when not, such links are removed again.
# $1 enabled (true|false)  $2 folder  $3 file pattern  $4 name for the log
offer_external_libs() {
    local enabled=$1 folder=$2 pattern=$3 label=$4
    local first_dir=${CONNECT_PLUGIN_PATH%%,*}
    if [[ "$enabled" == "true" && -n "$EXTERNAL_LIBS_DIR" && -d "$EXTERNAL_LIBS_DIR/$folder" ]]; then
        local plugin
        for plugin in "$first_dir"/*/; do
            # shellcheck disable=SC2086  # the pattern is a glob on purpose
            ln -snf "$EXTERNAL_LIBS_DIR/$folder/"$pattern "$plugin"
        done
        echo "$label enabled!"
    elif [[ -d "$first_dir" ]]; then
        find "$first_dir/" -lname "$EXTERNAL_LIBS_DIR/$folder/$pattern" -exec rm -f {} \;
    fi
}
offer_external_libs "$ENABLE_APICURIO_CONVERTERS" apicurio '*' "Apicurio connectors"
offer_external_libs "$ENABLE_DEBEZIUM_SCRIPTING" debezium-scripting '*.jar' "Debezium Scripting"
offer_external_libs "$ENABLE_OTEL" otel '*.jar' "OpenTelemetry"
offer_external_libs "$ENABLE_CHRONICLE_QUEUE" debezium-storage-chronicle-queue '*.jar' "Chronicle Queue"

# JMX on JMXHOST:JMXPORT (JMXAUTH, JMXSSL default false).
if [[ -n "$JMXPORT" && -n "$JMXHOST" ]]; then
    echo "Enabling JMX on ${JMXHOST}:${JMXPORT}"
    export KAFKA_JMX_OPTS="-Djava.rmi.server.hostname=${JMXHOST} -Dcom.sun.management.jmxremote.rmi.port=${JMXPORT} -Dcom.sun.management.jmxremote.port=${JMXPORT} -Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.authenticate=${JMXAUTH:-false} -Dcom.sun.management.jmxremote.ssl=${JMXSSL:-false} "
fi

# Java Flight Recorder: JFR_RECORDING_<NAME>=v as -XX:StartFlightRecording options,
# JFR_OPT_<NAME>=v as -XX:FlightRecorderOptions (name lower-cased, `_` as `-`).
jfr_options() {
    local prefix=$1 line name value out=""
    while IFS= read -r line; do
        name=${line%%=*}
        value=${line#*=}
        name=${name#"$prefix"}
        name=${name,,}
        out+="${out:+,}${name//_/-}=$value"
    done < <(env | grep "^$prefix")
    printf '%s' "$out"
}
if [[ "$ENABLE_JFR" == "true" ]]; then
    recording=$(jfr_options JFR_RECORDING_)
    options=$(jfr_options JFR_OPT_)
    jfr="-XX:StartFlightRecording${recording:+=$recording}${options:+ -XX:FlightRecorderOptions=$options}"
    echo "Java Flight Recorder enabled and configured with options $jfr"
    export KAFKA_OPTS="${KAFKA_OPTS:+$KAFKA_OPTS }$jfr"
    unset recording options jfr
fi

# Agents the upstream image ships (Jolokia) or names (JMX exporter): the stand-in has neither jar,
# and fails as upstream does when a jar is missing.
if [[ "$ENABLE_JOLOKIA" == "true" ]]; then
    echo "ENABLE_JOLOKIA: the stand-in has no $KAFKA_HOME/libs/jolokia-jvm-*.jar" >&2
    exit 1
fi
if [[ "$ENABLE_CHRONICLE_QUEUE" == "true" ]]; then
    KAFKA_OPTS="${KAFKA_OPTS} --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED"
    export KAFKA_OPTS
    echo "Chronicle Queue enabled!"
fi
if [[ "$ENABLE_JMX_EXPORTER" == "true" ]]; then
    echo "ENABLE_JMX_EXPORTER: no $KAFKA_HOME/libs/jmx_prometheus_javaagent*.jar (upstream has none either)" >&2
    exit 1
fi

mkdir -p "${KAFKA_DATA}/${KAFKA_BROKER_ID}"

# Set key=value in a properties file: a line `key=` or `#key=` takes the value (uncommented),
# otherwise the line is appended.
set_property() {
    local file=$1 key=$2 value=$3
    if grep -Eq "^#?${key//./\\.}=" "$file"; then
        KEY=$key VALUE=$value awk '
            BEGIN { key = ENVIRON["KEY"]; value = ENVIRON["VALUE"] }
            { line = $0; sub(/^#/, "", line) }
            index(line, key "=") == 1 { print key "=" value; next }
            { print }
        ' "$file" > "$file.new" && cat "$file.new" > "$file" && rm -f "$file.new"
    else
        echo "$key=$value" >> "$file"
    fi
}

# Every variable PREFIX<NAME>=value as the property <name> (lower case, `_` as `.`) in file.
apply_env() {
    local prefix=$1 file=$2 what=$3 line var key value
    while IFS= read -r line; do
        var=${line%%=*}
        value=${line#*=}
        key=${var#CONNECT_}
        key=${key,,}
        key=${key//_/.}
        set_property "$file" "$key" "$value"
        if [[ ",$SENSITIVE_PROPERTIES," == *",$var,"* ]]; then
            echo "--- Setting $what from $var: $key=[hidden]"
        else
            echo "--- Setting $what from $var: $key=$value"
        fi
    done < <(env | grep "^$prefix")
}

case $1 in
    start)
        if [[ -z "$CONNECT_BOOTSTRAP_SERVERS" ]]; then
            echo "The BOOTSTRAP_SERVERS variable must be set, or the container must be linked to one that runs Kafka."
            exit 1
        fi
        if [[ -z "$CONNECT_GROUP_ID" ]]; then
            echo "The GROUP_ID must be set to an ID that uniquely identifies the Kafka Connect cluster these workers belong to."
            exit 1
        fi
        if [[ -z "$CONNECT_CONFIG_STORAGE_TOPIC" ]]; then
            echo "The CONFIG_STORAGE_TOPIC variable must be set to the name of the topic where connector configurations will be stored."
            exit 1
        fi
        if [[ -z "$CONNECT_OFFSET_STORAGE_TOPIC" ]]; then
            echo "The OFFSET_STORAGE_TOPIC variable must be set to the name of the topic where connector offsets will be stored."
            exit 1
        fi
        if [[ -z "$CONNECT_STATUS_STORAGE_TOPIC" ]]; then
            echo "WARNING: STATUS_STORAGE_TOPIC is not set; the worker's default, 'connect-status', is used."
        fi

        echo "Using the following environment variables:"
        echo "      GROUP_ID=$CONNECT_GROUP_ID"
        echo "      CONFIG_STORAGE_TOPIC=$CONNECT_CONFIG_STORAGE_TOPIC"
        echo "      OFFSET_STORAGE_TOPIC=$CONNECT_OFFSET_STORAGE_TOPIC"
        [[ -n "$CONNECT_STATUS_STORAGE_TOPIC" ]] && echo "      STATUS_STORAGE_TOPIC=$CONNECT_STATUS_STORAGE_TOPIC"
        echo "      BOOTSTRAP_SERVERS=$CONNECT_BOOTSTRAP_SERVERS"
        echo "      REST_HOST_NAME=$CONNECT_REST_HOST_NAME"
        echo "      REST_PORT=$CONNECT_REST_PORT"
        echo "      ADVERTISED_HOST_NAME=$CONNECT_REST_ADVERTISED_HOST_NAME"
        echo "      ADVERTISED_PORT=$CONNECT_REST_ADVERTISED_PORT"
        echo "      KEY_CONVERTER=$CONNECT_KEY_CONVERTER"
        echo "      VALUE_CONVERTER=$CONNECT_VALUE_CONVERTER"
        echo "      OFFSET_FLUSH_INTERVAL_MS=$CONNECT_OFFSET_FLUSH_INTERVAL_MS"
        echo "      OFFSET_FLUSH_TIMEOUT_MS=$CONNECT_OFFSET_FLUSH_TIMEOUT_MS"
        echo "      SHUTDOWN_TIMEOUT=$CONNECT_TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS"

        # The shipped configuration, where the /kafka/config volume has no file of that name yet.
        cp -r --update=none "$KAFKA_HOME"/config.orig/* "$KAFKA_HOME/config"

        # Logging: CONNECT_LOG4J_LOGGERS replaces log4j.rootLogger; every other CONNECT_LOG4J_* is a
        # property of log4j.properties; LOG_LEVEL sets the console's level.
        log4j_file=$KAFKA_HOME/config/log4j.properties
        if [[ -n "$CONNECT_LOG4J_LOGGERS" ]]; then
            set_property "$log4j_file" log4j.rootLogger "$CONNECT_LOG4J_LOGGERS"
            unset CONNECT_LOG4J_LOGGERS
        fi
        apply_env CONNECT_LOG4J "$log4j_file" "logging property"
        if [[ -n "$LOG_LEVEL" ]]; then
            sed -i -e "s|=INFO, stdout|=$LOG_LEVEL, stdout|g" \
                -e "s|^\(log4j.appender.stdout.threshold\)=.*|\1=${LOG_LEVEL}|" "$log4j_file"
        fi
        export KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:$log4j_file"

        # The worker: every CONNECT_* variable (CONNECT_LOG4J_* included, as upstream's) is a property.
        apply_env CONNECT_ "$KAFKA_HOME/config/connect-distributed.properties" property

        exec "$KAFKA_HOME/bin/connect-distributed.sh" "$KAFKA_HOME/config/connect-distributed.properties"
        ;;
esac

exec "$@"
