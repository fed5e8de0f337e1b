/**
 * Where the lake's files go: a local directory (FsLakeStore) or an S3 bucket prefix (S3LakeStore, in s3.ts).
 * Keys are '/'-separated paths relative to the lake's root.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { WarehouseError, WarehouseUnavailableError } from '../../errors.js';

export interface LakeStore {
  /** `lake:/abs/dir` or `lake:s3://bucket/prefix` (no credentials). */
  readonly description: string;
  /** Checks the root can be written (creates the directory; the bucket must exist). */
  open(): Promise<void>;
  /** A local path where the file for `key` is written before publish(). */
  stagingPath(key: string, writer: string): Promise<string>;
  /** Makes the staged file visible under `key`, whole (a rename; a single PUT). The staged file is gone after. */
  publish(staged: string, key: string): Promise<void>;
  /** Writes a small text object. exclusive: only when `key` does not exist yet; returns false when it did. */
  putText(key: string, body: string, opts?: { exclusive?: boolean }): Promise<boolean>;
  /** The text of `key`, or undefined when it does not exist. */
  getText(key: string): Promise<string | undefined>;
  /** Every key under `prefix` (recursive), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deletes keys (missing ones are fine), and for the file system the stale temporary files of `writer`. */
  delete(keys: readonly string[], writer?: string): Promise<void>;
  /** Whether exclusive putText is enforced by the store (false: checked before writing, which a race can beat). */
  readonly exclusiveCreate: boolean;
  close(): Promise<void>;
}

/** Which errors mean "the lake cannot be reached right now, retry" rather than "this cannot work". */
const TRANSIENT_FS = new Set(['ENOSPC', 'EIO', 'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ESTALE', 'ETIMEDOUT', 'EDQUOT']);

export function fsError(description: string, what: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  const msg = `${what}: ${(err as Error)?.message ?? String(err)}`;
  if (code && TRANSIENT_FS.has(code)) return new WarehouseUnavailableError(description, msg, { cause: err });
  return new WarehouseError(description, msg, { cause: err });
}

/** The temporary name a file for `key` is written under before it is renamed into place (a dot file: readers skip it). */
export function tempName(path: string, writer: string): string {
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  return join(dir, `.${base}.${writer}.tmp`);
}

/** A lake in a local (or mounted) directory. Files appear by rename(2) from a temporary name in the same directory. */
export class FsLakeStore implements LakeStore {
  readonly description: string;
  readonly root: string;
  readonly exclusiveCreate = true;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `lake:${this.root}`;
  }

  private path(key: string): string {
    const p = resolve(this.root, ...key.split('/'));
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new WarehouseError(this.description, `key ${key} leaves the lake directory`);
    return p;
  }

  async open(): Promise<void> {
    try {
      await fsp.mkdir(this.root, { recursive: true });
      await fsp.access(this.root, constants.W_OK);
    } catch (err) {
      throw fsError(this.description, `cannot write the lake directory ${this.root}`, err);
    }
  }

  async stagingPath(key: string, writer: string): Promise<string> {
    const final = this.path(key);
    try {
      await fsp.mkdir(dirname(final), { recursive: true });
    } catch (err) {
      throw fsError(this.description, `cannot create ${dirname(final)}`, err);
    }
    return tempName(final, writer);
  }

  async publish(staged: string, key: string): Promise<void> {
    const final = this.path(key);
    try {
      await syncFile(staged);
      await fsp.rename(staged, final);
    } catch (err) {
      throw fsError(this.description, `cannot move ${staged} to ${final}`, err);
    }
  }

  async putText(key: string, body: string, opts: { exclusive?: boolean } = {}): Promise<boolean> {
    const final = this.path(key);
    const tmp = tempName(final, randomBytes(6).toString('hex'));
    try {
      await fsp.mkdir(dirname(final), { recursive: true });
      const fh = await fsp.open(tmp, 'w');
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (opts.exclusive) {
        // link(2) fails with EEXIST when the name is taken: a create-if-absent that two writers cannot both win.
        try {
          await fsp.link(tmp, final);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw err;
        } finally {
          await fsp.rm(tmp, { force: true });
        }
      } else {
        await fsp.rename(tmp, final);
      }
      await syncDir(dirname(final));
      return true;
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw fsError(this.description, `cannot write ${final}`, err);
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return await fsp.readFile(this.path(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(this.description, `cannot read ${key}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw fsError(this.description, `cannot list ${dir}`, err);
      }
      for (const e of entries) {
        const k = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(join(dir, e.name), k);
        else out.push(k);
      }
    };
    // The prefix is a directory path ending in '/' (every prefix the lake lists is).
    const dirKey = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    await walk(this.path(dirKey), dirKey);
    return out.sort();
  }

  async delete(keys: readonly string[], writer?: string): Promise<void> {
    for (const key of keys) {
      const p = this.path(key);
      try {
        await fsp.rm(p, { force: true });
        if (writer) await fsp.rm(tempName(p, writer), { force: true });
      } catch (err) {
        throw fsError(this.description, `cannot delete ${p}`, err);
      }
    }
  }

  /** Temporary files (`.name.<writer>.tmp`) left under `prefix` by writers that died; removed. */
  async removeStaleTemps(prefix: string): Promise<number> {
    let n = 0;
    const dir = this.path(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
    const walk = async (d: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else if (e.name.startsWith('.') && e.name.endsWith('.tmp')) {
          await fsp.rm(join(d, e.name), { force: true });
          n++;
        }
      }
    };
    await walk(dir);
    return n;
  }

  async close(): Promise<void> {}
}

async function syncFile(path: string): Promise<void> {
  const fh = await fsp.open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* some file systems refuse fsync on a directory; the rename is still atomic */
  }
}
