/**
 * `npm run bench -- derive-hc`: benchmarks/derive at high cardinality — a count per restaurant (100,000
 * restaurants) and distinct users per restaurant (20,000 restaurants, 50,000 users), 1,000,000 events each,
 * multidispatch against the same metrics as a Kafka Streams application, every value checked equal between the
 * two (and the distinct counts against a count by hand). The same harness as benchmarks/derive (see its run.ts
 * for the method); results in benchmarks/results/derive-hc.json and their own section of docs/benchmarks.md.
 * Every BENCH_DERIVE_* variable still applies; these are only the defaults.
 */
const defaults: Record<string, string> = {
  BENCH_DERIVE_RESULTS: 'derive-hc',
  BENCH_DERIVE_GROUP_BY: 'restaurant,users',
  BENCH_DERIVE_N: '1000000',
  BENCH_DERIVE_KEYS: '1000000',
  BENCH_DERIVE_PROFILE: '0',
  BENCH_DERIVE_WARMUP: '0',
};
for (const [k, v] of Object.entries(defaults)) process.env[k] ??= v;
await import('../derive/run.js');
