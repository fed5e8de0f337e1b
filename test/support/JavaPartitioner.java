import org.apache.kafka.common.utils.Utils;
import java.nio.charset.StandardCharsets;

/**
 * Prints, for each key read from stdin (one per line) and each partition count given as an argument,
 * the partition Kafka's Java client assigns: Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions,
 * the same expression as BuiltInPartitioner.partitionForKey.
 */
public class JavaPartitioner {
  public static void main(String[] args) throws Exception {
    java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
    String key;
    while ((key = in.readLine()) != null) {
      byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
      StringBuilder line = new StringBuilder().append(Utils.murmur2(bytes));
      for (String n : args) line.append(' ').append(Utils.toPositive(Utils.murmur2(bytes)) % Integer.parseInt(n));
      System.out.println(line);
    }
  }
}
