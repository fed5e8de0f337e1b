package bench.derive;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * The Kafka Streams baseline of benchmarks/derive: a count per group in 5-minute tumbling windows (grace 1 minute),
 * event time from the `md-occurred-at` header (ISO-8601, as multidispatch's publisher writes it), exactly_once_v2.
 *
 * <pre>
 * java -jar derive-streams-app.jar --bootstrap HOST:PORT --input TOPIC[,TOPIC...] --output TOPIC --app-id ID --state-dir DIR
 *      [--commit-ms 1000] [--group-by key|market|join|restaurant|users] [--table TOPIC] [--emit final|update] [--threads 1]
 * </pre>
 *
 * group-by key: the record key (groupByKey, no repartition). group-by market: field 4 of the protobuf value
 * (orders.v1.OrderPlaced.market) read with CodedInputStream, the other fields skipped; the record is re-keyed by it
 * with an empty value and repartitioned through an internal topic before counting. group-by join: a GlobalKTable over
 * --table (restaurants.v1.RestaurantProfile keyed by restaurant_id, values kept as bytes); each order is joined
 * (inner) with its restaurant by field 3 of the value (OrderPlaced.restaurant_id), the joiner reads the region
 * (field 3 of RestaurantProfile) from the row, and the record is re-keyed by region, repartitioned and counted.
 * group-by restaurant: re-keyed by field 3 (restaurant_id), repartitioned, counted (high cardinality). group-by users:
 * re-keyed by restaurant_id with the user id (field 1 of field 2, Context.user_id) as the value, repartitioned, and
 * aggregated into the exact set of user ids per window (a byte array of length-prefixed ids); the output is the
 * set's size, a count of distinct users.
 * emit final: one value per window when it closes (EmitStrategy.onWindowClose(), like multidispatch's 'final');
 * emit update: the default, a value per window change, de-duplicated by the record cache at each commit.
 * Output: key "<group>|<window start ms>" (UTF-8), value the count (8-byte big-endian long).
 *
 * Protocol with the parent (benchmarks/derive/run.ts): prints "READY" once the topology is built, starts on a line
 * "go" on stdin, prints "RUNNING" when the client first reaches RUNNING, and on SIGTERM closes the client and
 * prints one line "STATS {json}" (records processed, records dropped) before the JVM exits (143). Exits 1 on a
 * stream thread error. Several input topics (comma-separated) must be co-partitioned: the benchmark adds an empty
 * "flush" topic that it writes to only after the timed phase.
 */
public final class StreamsDerive {
  static final String OCCURRED_AT = "md-occurred-at";

  /** Event time: the md-occurred-at header; the record timestamp when the header is missing or unparsable. */
  public static final class OccurredAtExtractor implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      Header h = record.headers().lastHeader(OCCURRED_AT);
      if (h != null && h.value() != null) {
        try {
          return Instant.parse(new String(h.value(), StandardCharsets.UTF_8)).toEpochMilli();
        } catch (RuntimeException ignored) {
          // fall through
        }
      }
      return record.timestamp();
    }
  }

  /** A string field of a protobuf message (other fields skipped); "" when absent or undecodable. */
  static String stringField(byte[] value, int field) {
    if (value == null) return "";
    try {
      CodedInputStream in = CodedInputStream.newInstance(value);
      while (true) {
        int tag = in.readTag();
        if (tag == 0) return "";
        if (WireFormat.getTagFieldNumber(tag) == field && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          return in.readStringRequireUtf8();
        }
        if (!in.skipField(tag)) return "";
      }
    } catch (IOException e) {
      return "";
    }
  }

  /** orders.v1.OrderPlaced field 4 (string market). */
  static String market(byte[] value) {
    return stringField(value, 4);
  }

  /** orders.v1.OrderPlaced field 3 (string restaurant_id). */
  static String restaurantId(byte[] value) {
    return stringField(value, 3);
  }

  /** orders.v1.OrderPlaced field 2 (Context context), field 1 (string user_id). */
  static String userId(byte[] value) {
    return stringField(messageField(value, 2), 1);
  }

  /** An embedded message field of a protobuf message (other fields skipped); null when absent or undecodable. */
  static byte[] messageField(byte[] value, int field) {
    if (value == null) return null;
    try {
      CodedInputStream in = CodedInputStream.newInstance(value);
      while (true) {
        int tag = in.readTag();
        if (tag == 0) return null;
        if (WireFormat.getTagFieldNumber(tag) == field && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          return in.readByteArray();
        }
        if (!in.skipField(tag)) return null;
      }
    } catch (IOException e) {
      return null;
    }
  }

  /** The set of user ids (length-prefixed UTF-8, 2-byte lengths) with `user` added, unless it is in it already. */
  static byte[] addToSet(byte[] set, byte[] user) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(set);
    while (b.remaining() >= 2) {
      int len = b.getShort() & 0xffff;
      if (len == user.length && java.util.Arrays.equals(set, b.position(), b.position() + len, user, 0, len)) return set;
      b.position(b.position() + len);
    }
    byte[] out = java.util.Arrays.copyOf(set, set.length + 2 + user.length);
    out[set.length] = (byte) (user.length >>> 8);
    out[set.length + 1] = (byte) user.length;
    System.arraycopy(user, 0, out, set.length + 2, user.length);
    return out;
  }

  /** The number of ids in a set written by addToSet. */
  static long setSize(byte[] set) {
    long n = 0;
    for (int at = 0; at + 2 <= set.length; n++) at += 2 + (((set[at] & 0xff) << 8) | (set[at + 1] & 0xff));
    return n;
  }

  /** restaurants.v1.RestaurantProfile field 3 (string region). */
  static String region(byte[] row) {
    return stringField(row, 3);
  }

  static Map<String, String> parseArgs(String[] args) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + args[i]);
      out.put(args[i].substring(2), args[i + 1]);
    }
    return out;
  }

  static String need(Map<String, String> a, String name) {
    String v = a.get(name);
    if (v == null) throw new IllegalArgumentException("missing --" + name);
    return v;
  }

  static Topology topology(String input, String output, String groupBy, String emit, String table) {
    StreamsBuilder b = new StreamsBuilder();
    KStream<String, byte[]> in =
        b.stream(Arrays.asList(input.split(",")), Consumed.with(Serdes.String(), Serdes.ByteArray()).withTimestampExtractor(new OccurredAtExtractor()));
    KGroupedStream<String, byte[]> grouped;
    switch (groupBy) {
      case "key":
        grouped = in.groupByKey(Grouped.with(Serdes.String(), Serdes.ByteArray()));
        break;
      case "market":
        grouped = in.map((k, v) -> KeyValue.pair(market(v), new byte[0]))
            .groupByKey(Grouped.with("by-market", Serdes.String(), Serdes.ByteArray()));
        break;
      case "join":
        if (table == null) throw new IllegalArgumentException("--group-by join needs --table");
        GlobalKTable<String, byte[]> restaurants = b.globalTable(table, Consumed.with(Serdes.String(), Serdes.ByteArray()));
        grouped = in.join(restaurants, (k, v) -> restaurantId(v), (order, row) -> region(row))
            .map((k, region) -> KeyValue.pair(region, new byte[0]))
            .groupByKey(Grouped.with("by-region", Serdes.String(), Serdes.ByteArray()));
        break;
      case "restaurant":
        grouped = in.map((k, v) -> KeyValue.pair(restaurantId(v), new byte[0]))
            .groupByKey(Grouped.with("by-restaurant", Serdes.String(), Serdes.ByteArray()));
        break;
      case "users":
        grouped = in.map((k, v) -> KeyValue.pair(restaurantId(v), userId(v).getBytes(StandardCharsets.UTF_8)))
            .groupByKey(Grouped.with("by-restaurant", Serdes.String(), Serdes.ByteArray()));
        break;
      default:
        throw new IllegalArgumentException("--group-by must be key, market, join, restaurant or users");
    }
    EmitStrategy strategy;
    switch (emit) {
      case "final":
        strategy = EmitStrategy.onWindowClose();
        break;
      case "update":
        strategy = EmitStrategy.onWindowUpdate();
        break;
      default:
        throw new IllegalArgumentException("--emit must be final or update");
    }
    var windowed = grouped.windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(5), Duration.ofMinutes(1))).emitStrategy(strategy);
    if (groupBy.equals("users")) {
      windowed
          .aggregate(() -> new byte[0], (k, user, set) -> addToSet(set, user), Materialized.with(Serdes.String(), Serdes.ByteArray()))
          .toStream((wk, v) -> wk.key() + "|" + wk.window().start())
          .mapValues(StreamsDerive::setSize)
          .to(output, Produced.with(Serdes.String(), Serdes.Long()));
    } else {
      windowed
          .count()
          .toStream((wk, v) -> wk.key() + "|" + wk.window().start())
          .to(output, Produced.with(Serdes.String(), Serdes.Long()));
    }
    return b.build();
  }

  /** Sum of a task- or thread-level metric over all its instances. */
  static double sumMetric(KafkaStreams streams, String name, String group) {
    double sum = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      MetricName n = e.getKey();
      if (n.name().equals(name) && n.group().equals(group)) {
        Object v = e.getValue().metricValue();
        if (v instanceof Number) sum += ((Number) v).doubleValue();
      }
    }
    return sum;
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = parseArgs(argv);
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(a, "app-id"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(a, "bootstrap"));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Integer.parseInt(a.getOrDefault("commit-ms", "1000")));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.getOrDefault("threads", "1")));
    p.put(StreamsConfig.STATE_DIR_CONFIG, need(a, "state-dir"));
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    // Short thread names ("K-StreamThread-1", "K-GlobalStreamThread"): the parent reads per-thread CPU from
    // /proc/<pid>/task/*/comm, which keeps the first 15 characters of a thread's name.
    p.put(StreamsConfig.CLIENT_ID_CONFIG, "K");
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    Topology topology = topology(need(a, "input"), need(a, "output"), a.getOrDefault("group-by", "key"), a.getOrDefault("emit", "final"), a.get("table"));

    KafkaStreams streams = new KafkaStreams(topology, p);
    CountDownLatch done = new CountDownLatch(1);
    int[] exit = {0};
    streams.setUncaughtExceptionHandler(ex -> {
      System.err.println("stream thread failed: " + ex);
      ex.printStackTrace(System.err);
      exit[0] = 1;
      done.countDown();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    boolean[] running = {false};
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING && !running[0]) {
        running[0] = true;
        System.out.println("RUNNING");
        System.out.flush();
      }
      if (now == KafkaStreams.State.ERROR) {
        exit[0] = 1;
        done.countDown();
      }
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      double processed = sumMetric(streams, "process-total", "stream-thread-metrics");
      double dropped = sumMetric(streams, "dropped-records-total", "stream-task-metrics");
      streams.close(Duration.ofSeconds(30));
      System.out.println("STATS {\"processed\":" + (long) processed + ",\"dropped\":" + (long) dropped + "}");
      System.out.flush();
    }, "bench-shutdown"));

    System.out.println("READY");
    System.out.flush();
    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line = stdin.readLine();
    if (line == null || !line.trim().equals("go")) {
      System.err.println("expected 'go' on stdin, got " + line);
      System.exit(2);
    }
    streams.start();
    done.await();
    System.exit(exit[0]);
  }
}
