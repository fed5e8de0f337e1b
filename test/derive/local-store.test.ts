/** The local state store (LMDB): atomic writes with their checkpoint, long keys, the lock, a damaged file. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LmdbTaskStore, RestoreWriter } from '../../src/derive/local-store.js';
import { UsageError } from '../../src/errors.js';

const dirOf = (t: { after: (fn: () => void) => void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'md-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

describe('local state store', () => {
  it('keeps each task\'s entries with the checkpoint they reflect, across a reopen; deletes and clears', async (t) => {
    const dir = dirOf(t);
    let store = LmdbTaskStore.open(dir, 'g');
    assert.equal(store.load('agg-0'), undefined, 'nothing before the first write');
    const long = `w|m|${'x'.repeat(3000)}\u00001000`;
    await store.write('agg-0', [['w|m|a\u00000', Uint8Array.of(1, 2)], ['w|m|b\u00000', Uint8Array.of(3)], [long, Uint8Array.of(9)]], '17');
    await store.write('agg-1', [['c|clock', Uint8Array.of(7)]], '4');
    await store.write('agg-0', [['w|m|b\u00000', null], ['w|m|a\u00000', Uint8Array.of(5)]], '23');
    await store.close();

    store = LmdbTaskStore.open(dir, 'g');
    t.after(() => store.close());
    const a = store.load('agg-0')!;
    assert.equal(a.checkpoint.offset, '23');
    assert.deepEqual([...a.entries].map(([k, v]) => [k, [...v]]).sort(), [[long, [9]], ['w|m|a\u00000', [5]]].sort());
    const b = store.load('agg-1')!;
    assert.equal(b.checkpoint.offset, '4');
    assert.deepEqual([...b.entries].map(([k]) => k), ['c|clock'], 'tasks do not see each other\'s keys');
    await store.clear('agg-0');
    assert.equal(store.load('agg-0'), undefined);
    assert.equal([...store.load('agg-1')!.entries].length, 1, 'clearing one task leaves the others');
  });

  it('a restore writer buffers changelog batches into large writes: the later record of a key wins, tombstones delete, the checkpoint follows', async (t) => {
    const store = LmdbTaskStore.open(dirOf(t), 'g');
    t.after(() => store.close());
    const writer = new RestoreWriter(store, 4);
    writer.add('agg-0', [['w|m|b', Uint8Array.of(1)], ['w|m|a', Uint8Array.of(1)]], '2');
    assert.equal(store.load('agg-0'), undefined, 'nothing written below the threshold');
    writer.add('agg-0', [['w|m|b', Uint8Array.of(2)], ['w|m|c', Uint8Array.of(3)]], '4'); // 4 records: flushed
    assert.equal(store.load('agg-0')!.checkpoint.offset, '4');
    writer.add('agg-0', [['w|m|a', null], ['w|m|c', Uint8Array.of(4)]], '6');
    writer.add('agg-1', [['c|', Uint8Array.of(7)]], '1');
    writer.flush(new Map([['agg-0', '7'], ['agg-2', '0']]));
    const src = store.source('agg-0')('w|m|');
    assert.deepEqual([...src.range()].map(([k, v]) => [k, [...v]]), [['b', [2]], ['c', [4]]]);
    assert.equal(src.count(), 2);
    assert.equal(src.first(), 'b');
    assert.deepEqual([...src.get('c')!], [4]);
    assert.equal(src.get('a'), undefined, 'deleted by its tombstone');
    assert.equal(store.load('agg-0')!.checkpoint.offset, '7', 'past the markers at the end');
    assert.equal(store.load('agg-1')!.checkpoint.offset, '1');
    assert.equal(store.load('agg-2')!.checkpoint.offset, '0', 'an empty partition gets its checkpoint too');
    assert.equal(writer.written, 7);
  });

  it('refuses a directory another live process holds, and takes over one whose holder died', async (t) => {
    const dir = dirOf(t);
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    t.after(() => holder.kill('SIGKILL'));
    await new Promise((r) => holder.once('spawn', r));
    const gdir = join(dir, 'g');
    LmdbTaskStore.open(dir, 'g').close();
    writeFileSync(join(gdir, 'LOCK'), String(holder.pid));
    assert.throws(() => LmdbTaskStore.open(dir, 'g'), (err: unknown) => err instanceof UsageError && new RegExp(`in use by process ${holder.pid}`).test(err.message));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const store = LmdbTaskStore.open(dir, 'g');
    assert.throws(() => LmdbTaskStore.open(dir, 'g'), /in use by process/, 'a second open in the same process is refused too');
    await store.close();
    assert.equal(existsSync(join(gdir, 'LOCK')), false, 'close releases the lock');
  });

  it('a damaged store is moved aside and starts empty (every task is then rebuilt from its changelog)', async (t) => {
    const dir = dirOf(t);
    const store = LmdbTaskStore.open(dir, 'g');
    await store.write('agg-0', [['c|x', Uint8Array.of(1)]], '5');
    await store.close();
    writeFileSync(join(dir, 'g', 'state', 'data.mdb'), Buffer.alloc(16384, 0x5a)); // garbage over the LMDB file
    const reopened = LmdbTaskStore.open(dir, 'g');
    t.after(() => reopened.close());
    assert.ok(reopened.discarded, 'the damaged file was noticed');
    assert.equal(reopened.load('agg-0'), undefined);
    assert.ok(readdirSync(join(dir, 'g')).some((f) => f.startsWith('state.discarded-')), 'kept aside for a look');
  });
});
