// Reads a .properties file the way Spark (spark-defaults.conf) and Kafka's FileConfigProvider
// do, with java.util.Properties, and prints each key and value on a line: key<TAB>value.
import java.io.FileReader;
import java.util.Properties;
import java.util.TreeSet;

public class PropertiesDump {
    public static void main(String[] args) throws Exception {
        Properties properties = new Properties();
        try (FileReader reader = new FileReader(args[0], java.nio.charset.StandardCharsets.UTF_8)) {
            properties.load(reader);
        }
        for (String key : new TreeSet<>(properties.stringPropertyNames())) {
            System.out.println(key + "\t" + properties.getProperty(key).replace("\n", "\\n"));
        }
    }
}
