/**
 * StatsD line-protocol hygiene. A DogStatsD line is `name:value|c|#k:v,k:v`; any of `:|,#@` or a line break
 * inside a name or tag would split the line or forge another metric, so each becomes `_`. Line breaks are
 * more than \n: receivers and log pipelines also end lines at C1 controls such as U+0085 (NEL) and at U+2028
 * and U+2029, so every control character (Cc), line and paragraph separator (Zl, Zp) and whitespace goes.
 */
const UNSAFE_TAG = /[:|,#@\p{Cc}\p{Zl}\p{Zp}\s]/gu;
/** Names keep only ASCII letters, digits and `_.-`, which already leaves out everything UNSAFE_TAG refuses. */
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
