import type { KafkaTransaction, OutgoingRecord } from '../kafka/port.js';

/** Largest produce request the runner builds (the broker's default message.max.bytes is 1 MiB). */
const MAX_SEND_BYTES = 512 * 1024;

/**
 * Sends `messages` in requests of at most MAX_SEND_BYTES, so no batch depends on how many there are. Returns, when
 * the last request went to one partition, the offset after its last record (for a changelog: the checkpoint).
 */
export async function sendChunked(tx: KafkaTransaction, topic: string, messages: OutgoingRecord[]): Promise<bigint | undefined> {
  let chunk: OutgoingRecord[] = [];
  let bytes = 0;
  let next: bigint | undefined;
  const send = async () => {
    const meta = await tx.send({ topic, acks: -1, messages: chunk });
    // One partition per chunk for the changelog: the offset after its last record.
    const m = meta.length === 1 ? meta[0] : undefined;
    next = m?.baseOffset !== undefined ? BigInt(m.baseOffset) + BigInt(chunk.length) : undefined;
  };
  for (const m of messages) {
    const size = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
    if (chunk.length > 0 && bytes + size > MAX_SEND_BYTES) {
      await send();
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) await send();
  return next;
}

