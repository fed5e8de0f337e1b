/**
 * The secret values this process was given (passwords, private keys, client secrets, tokens). Every line the CLI
 * writes for an error passes through `redact`, so a secret that reached a message by accident (a library quoting
 * its input) is replaced before it is printed. Messages built by this package never include secrets to begin with.
 */
const secrets = new Set<string>();

/** Remembers a secret value; values shorter than 4 characters are too likely to match ordinary text and are skipped. */
export function registerSecret(value: string): void {
  if (value.length >= 4) secrets.add(value);
}

/** Replaces every registered secret in `text` with `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}
