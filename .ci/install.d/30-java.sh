# A Java runtime: the streaming and processing tests parse rendered .properties files with
# java.util.Properties, the parser Spark and Kafka use. Run by .ci/run; safe to run again.
if ! command -v java >/dev/null 2>&1; then
    log=$(mktemp)
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends openjdk-17-jre-headless; } >"$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    rm -f "$log"
fi
