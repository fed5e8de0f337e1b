/**
 * A plain UDP socket counting what a StatsD client sends: datagrams, lines, and the summed values of the
 * DogStatsD counter lines `name:value|c[|@rate][|#tag:v,...]`, per metric name. Snapshots mark phases.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface StatsdTotals {
  datagrams: number;
  lines: number;
  /** Summed counter values per metric name. */
  counters: Record<string, number>;
  /** Lines that were not counters or did not parse. */
  otherLines: number;
}

export class StatsdReceiver {
  private readonly socket: Socket;
  private totals: StatsdTotals = { datagrams: 0, lines: 0, counters: {}, otherLines: 0 };
  port = 0;

  constructor() {
    this.socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    this.socket.on('message', (msg) => this.onMessage(msg));
  }

  async start(): Promise<number> {
    await new Promise<void>((res, rej) => {
      this.socket.once('error', rej);
      this.socket.bind(0, '127.0.0.1', () => res());
    });
    this.port = this.socket.address().port;
    return this.port;
  }

  private onMessage(msg: Buffer): void {
    const t = this.totals;
    t.datagrams++;
    for (const line of msg.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      t.lines++;
      const colon = line.indexOf(':');
      const bar = colon > 0 ? line.indexOf('|', colon) : -1;
      const rest = bar > 0 ? line.slice(bar + 1) : '';
      if (!(rest === 'c' || rest.startsWith('c|'))) {
        t.otherLines++;
        continue;
      }
      const value = Number(line.slice(colon + 1, bar));
      if (!Number.isFinite(value)) {
        t.otherLines++;
        continue;
      }
      const name = line.slice(0, colon);
      t.counters[name] = (t.counters[name] ?? 0) + value;
    }
  }

  /** Totals since the last reset, then starts counting from zero. */
  takeAndReset(): StatsdTotals {
    const t = this.totals;
    this.totals = { datagrams: 0, lines: 0, counters: {}, otherLines: 0 };
    return t;
  }

  close(): Promise<void> {
    return new Promise((res) => this.socket.close(() => res()));
  }
}
