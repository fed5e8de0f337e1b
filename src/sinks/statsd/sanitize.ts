/**
 * StatsD line-protocol hygiene. A DogStatsD line is `name:value|c|#k:v,k:v`; any of `:|,#@` or a line break
 * inside a name or tag would split the line or forge another metric, so each becomes `_`.
 */
const UNSAFE_TAG = /[:|,#@\s\u0000-\u001f\u007f]/g;
const UNSAFE_NAME = /[^a-zA-Z0-9_.-]/g;

export function sanitizeTagValue(value: string): string {
  const s = value.replace(UNSAFE_TAG, '_');
  return s.length > 200 ? s.slice(0, 200) : s || '_';
}

export function sanitizeTagName(name: string): string {
  return name.replace(UNSAFE_NAME, '_') || '_';
}

export function sanitizeMetricName(name: string): string {
  return name.replace(UNSAFE_NAME, '_') || '_';
}
