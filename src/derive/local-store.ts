import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { UsageError } from '../errors.js';
import type { StateEntry, StateReader, StateSource } from './state.js';

/** Where a task's local copy of its state stands in its changelog partition. */
export interface Checkpoint {
  /** The changelog offset after the last record the local copy reflects: a restore reads the changelog from here. */
  offset: string;
  /** Wall time of the commit that wrote it (ms). */
  at: number;
}

/** What a task's state is kept in between runs: the port the runner talks to (an LMDB file, or nothing). */
export interface TaskStateStore {
  /**
   * The checkpoint of the task's local copy and its entries, read as they are iterated (once; a damaged entry
   * throws then); undefined when there is no local copy.
   */
  load(task: string): { checkpoint: Checkpoint; entries: Iterable<[string, Uint8Array]> } | undefined;
  /**
   * Applies committed changelog records (null: deleted) and moves the checkpoint to `offset`, atomically: after a
   * crash the copy is at the old checkpoint or the new one, never between.
   */
  write(task: string, entries: readonly StateEntry[], offset: string): Promise<void>;
  /** The same, synchronously: commits and the restore's RestoreWriter call it from synchronous code. */
  writeSync(task: string, entries: readonly StateEntry[], offset: string): void;
  /** Reads of the task's committed state by key prefix: what the engine reads its spilled windows from. */
  source(task: string): StateSource;
  /** Forgets a task's local copy (it cannot be trusted: rebuild it from the changelog). */
  clear(task: string): Promise<void>;
  close(): Promise<void>;
}

/** 2: window keys start with the window start, and long keys keep their first bytes (so prefix scans see them). */
const FORMAT = 2;
/**
 * LMDB keys are at most 1978 bytes here; a longer state key is stored under its first KEPT_BYTES bytes and its
 * hash (the value carries the whole key), so it still sorts by its beginning.
 */
const MAX_KEY_BYTES = 480;
const KEPT_BYTES = 400;

/**
 * The state of the tasks of one derive group on local disk: one LMDB environment under
 * `<stateDir>/<group>/`, in which every task (`agg-3`, `src-0`) has a checkpoint key `<task>\0` and one entry per
 * state key `<task>\1<key>` whose value is `varint(key length) key state`. LMDB (memory-mapped B+tree, one writer,
 * copy-on-write pages) keeps the file consistent through a SIGKILL: every write is one transaction with its
 * checkpoint. Written without fsync per commit (the OS flushes it): a machine crash can take the last commits
 * away, which only moves the checkpoint back — the changelog tail after it is read again.
 *
 * A lock file keeps two processes from sharing one directory.
 */
export class LmdbTaskStore implements TaskStateStore {
  private constructor(
    private readonly root: RootDatabase<Buffer, Buffer>,
    private readonly db: Database<Buffer, Buffer>,
    private readonly lockFile: string,
    readonly dir: string,
    /** Set when the directory could not be opened and was moved aside (corrupt, or another format). */
    readonly discarded: string | undefined,
  ) {}

  static open(stateDir: string, group: string): LmdbTaskStore {
    const dir = join(stateDir, group);
    mkdirSync(dir, { recursive: true });
    const lockFile = join(dir, 'LOCK');
    takeLock(lockFile, dir);
    let discarded: string | undefined;
    const tryOpen = () => {
      if (existsSync(join(dir, 'state', 'data.mdb'))) probe(join(dir, 'state'));
      const root = open<Buffer, Buffer>({ path: join(dir, 'state'), keyEncoding: 'binary', encoding: 'binary', noSync: true, mapSize: 2 ** 34 });
      const meta = root.get(Buffer.from('\u0000format'));
      if (meta === undefined) root.putSync(Buffer.from('\u0000format'), Buffer.from(String(FORMAT)));
      else if (meta.toString() !== String(FORMAT)) throw new Error(`state format ${meta.toString()}, expected ${FORMAT}`);
      return root;
    };
    let root: RootDatabase<Buffer, Buffer>;
    try {
      root = tryOpen();
    } catch (err) {
      // Unreadable (a truncated or foreign file, another format): keep it aside for a look, and start empty —
      // every task is then rebuilt from its changelog.
      discarded = join(dir, `state.discarded-${Date.now()}`);
      try {
        renameSync(join(dir, 'state'), discarded);
      } catch {
        rmSync(join(dir, 'state'), { recursive: true, force: true });
      }
      discarded += ` (${(err as Error).message})`;
      try {
        root = tryOpen();
      } catch (again) {
        releaseLock(lockFile);
        throw new UsageError(`--state-dir ${stateDir}: cannot open the local state store: ${(again as Error).message}`);
      }
    }
    return new LmdbTaskStore(root, root, lockFile, dir, discarded);
  }

  load(task: string): { checkpoint: Checkpoint; entries: Iterable<[string, Uint8Array]> } | undefined {
    const cp = this.db.get(Buffer.from(`${task}\u0000`));
    if (cp === undefined) return undefined;
    const checkpoint = JSON.parse(cp.toString()) as Checkpoint;
    const db = this.db;
    // Streamed straight into the engine: no map of a million keys beside the engine's own state.
    function* entries(): Generator<[string, Uint8Array]> {
      for (const { value } of db.getRange({ start: Buffer.from(`${task}\u0001`), end: Buffer.from(`${task}\u0002`) })) {
        const [len, at] = readVarint(value, 0);
        yield [value.toString('utf8', at, at + len), value.subarray(at + len)];
      }
    }
    return { checkpoint, entries: { [Symbol.iterator]: entries } };
  }

  // Synchronous LMDB transactions: without fsync they cost what the pages cost, and they cannot interleave with
  // another write of the same task (lmdb's batched async transactions were seen to stall when queued back to back).
  async write(task: string, entries: readonly StateEntry[], offset: string): Promise<void> {
    this.writeSync(task, entries, offset);
  }

  writeSync(task: string, entries: readonly StateEntry[], offset: string): void {
    const checkpoint: Checkpoint = { offset, at: Date.now() };
    this.db.transactionSync(() => {
      for (const [key, value] of entries) {
        const k = entryKey(task, key);
        if (value === null) this.db.removeSync(k);
        else this.db.putSync(k, entryValue(key, value));
      }
      this.db.putSync(Buffer.from(`${task}\u0000`), Buffer.from(JSON.stringify(checkpoint)));
    });
  }

  source(task: string): StateSource {
    const db = this.db;
    return (prefix: string): StateReader => {
      const start = Buffer.from(`${task}\u0001${prefix}`);
      const end = Buffer.from(start);
      end[end.length - 1]! += 1; // every key that starts with the prefix sorts below this one
      const state = (value: Buffer, key?: string): [string, Uint8Array] | undefined => {
        const [len, at] = readVarint(value, 0);
        const full = value.toString('utf8', at, at + len);
        if (key !== undefined && full !== prefix + key) return undefined;
        return [full.slice(prefix.length), value.subarray(at + len)];
      };
      return {
        get: (key) => {
          const value = db.get(entryKey(task, prefix + key));
          return value === undefined ? undefined : state(value, key)?.[1];
        },
        *range() {
          for (const { value } of db.getRange({ start, end })) yield state(value)!;
        },
        first: () => {
          for (const { value } of db.getRange({ start, end, limit: 1 })) return state(value)![0];
          return undefined;
        },
        count: () => db.getCount({ start, end }),
      };
    };
  }

  async clear(task: string): Promise<void> {
    this.db.transactionSync(() => {
      this.db.removeSync(Buffer.from(`${task}\u0000`));
      for (const key of this.db.getKeys({ start: Buffer.from(`${task}\u0001`), end: Buffer.from(`${task}\u0002`) })) this.db.removeSync(key);
    });
  }

  async close(): Promise<void> {
    try {
      await this.root.flushed;
      await this.root.close();
    } finally {
      releaseLock(this.lockFile);
    }
  }
}

/**
 * Applies changelog records read by a restore to the local store in large transactions: an LMDB write
 * transaction copies every page it touches, so one transaction per fetched batch (a few thousand keys spread over
 * the whole tree) costs nearly as much as one of a hundred thousand. Records are buffered up to `maxRecords` and
 * written in changelog order (the later record of a key wins), each task with the offset after its last buffered
 * record as the checkpoint — so a restore cut off half way resumes from the last flush. (Sorting a chunk by key
 * first was tried: no measurable gain.)
 */
export class RestoreWriter {
  private readonly pending = new Map<string, { entries: StateEntry[]; offset: string }>();
  private buffered = 0;
  /** Records written so far. */
  written = 0;

  constructor(
    private readonly store: Pick<TaskStateStore, 'writeSync'>,
    private readonly maxRecords = 200_000,
  ) {}

  add(task: string, entries: readonly StateEntry[], offset: string): void {
    let p = this.pending.get(task);
    if (!p) this.pending.set(task, (p = { entries: [], offset }));
    for (const e of entries) p.entries.push(e);
    p.offset = offset;
    this.buffered += entries.length;
    if (this.buffered >= this.maxRecords) this.flush();
  }

  /** Writes what is buffered; `ends` moves a task's checkpoint past what was read (the transaction markers at the end). */
  flush(ends?: ReadonlyMap<string, string>): void {
    for (const [task, end] of ends ?? []) {
      const p = this.pending.get(task);
      if (p) p.offset = end;
      else this.pending.set(task, { entries: [], offset: end });
    }
    for (const [task, { entries, offset }] of this.pending) {
      this.store.writeSync(task, entries, offset);
      this.written += entries.length;
    }
    this.pending.clear();
    this.buffered = 0;
  }
}

/**
 * LMDB trusts its file: a damaged one can crash the process that maps it (SIGSEGV) instead of failing. So a store
 * is first read whole, every page, by a throwaway process; if that one dies, the file is not opened here.
 */
function probe(path: string): void {
  const lmdb = createRequire(import.meta.url).resolve('lmdb');
  const code = `const { open } = require(process.argv[1]);
const db = open({ path: process.argv[2], keyEncoding: 'binary', encoding: 'binary', readOnly: true });
let n = 0; for (const e of db.getRange({})) n += e.value.length;
db.close(); process.stdout.write(String(n));`;
  const r = spawnSync(process.execPath, ['-e', code, lmdb, path], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`the store at ${path} cannot be read (${r.signal ? `reading it crashed with ${r.signal}` : (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0]})`);
}

function entryKey(task: string, key: string): Buffer {
  const k = Buffer.from(`${task}\u0001${key}`);
  if (k.length <= MAX_KEY_BYTES) return k;
  return Buffer.concat([k.subarray(0, KEPT_BYTES), Buffer.from(`#${createHash('sha256').update(key).digest('base64')}`)]);
}

function entryValue(key: string, value: Uint8Array): Buffer {
  const k = Buffer.from(key);
  const head: number[] = [];
  let n = k.length;
  while (n >= 0x80) {
    head.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  head.push(n);
  return Buffer.concat([Buffer.from(head), k, value]);
}

function readVarint(b: Buffer, at: number): [number, number] {
  let n = 0;
  let shift = 0;
  for (;;) {
    const byte = b[at++]!;
    n |= (byte & 0x7f) << shift;
    if (byte < 0x80) return [n, at];
    shift += 7;
  }
}

function takeLock(lockFile: string, dir: string): void {
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`--state-dir: cannot write ${lockFile}: ${(err as Error).message}`);
  }
  const holder = Number(readFileSync(lockFile, 'utf8').trim());
  if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
    throw new UsageError(`--state-dir: ${dir} is in use by process ${holder} (give each instance its own state directory)`);
  }
  writeFileSync(lockFile, String(process.pid)); // left behind by a process that died
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseLock(lockFile: string): void {
  try {
    if (readFileSync(lockFile, 'utf8').trim() === String(process.pid)) unlinkSync(lockFile);
  } catch {
    // already gone
  }
}
