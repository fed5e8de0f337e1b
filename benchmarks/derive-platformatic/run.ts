/**
 * `npm run bench -- derive-platformatic`: benchmarks/derive (the three variants: by key, by market, joined), with D
 * (multidispatch) on the @platformatic/kafka adapter instead of kafkajs, against the same Kafka Streams application
 * and checked equal to it. Results in benchmarks/results/derive-platformatic.json and their own section of
 * docs/benchmarks.md, beside benchmarks/derive's (D on kafkajs). Every BENCH_DERIVE_* variable still applies.
 */
const defaults: Record<string, string> = {
  BENCH_DERIVE_RESULTS: 'derive-platformatic',
  BENCH_DERIVE_CLIENT: 'platformatic',
  BENCH_DERIVE_PROFILE: '0',
};
for (const [k, v] of Object.entries(defaults)) process.env[k] ??= v;
await import('../derive/run.js');
