# A Java runtime: the streaming and processing tests parse rendered .properties files with
# java.util.Properties, the parser Spark and Kafka use.
apt_install openjdk-17-jre-headless
