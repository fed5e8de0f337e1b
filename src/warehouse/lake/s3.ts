/**
 * The lake in an S3 bucket (AWS S3 or any S3-compatible store), through the AWS SDK for JavaScript v3. The only
 * module that imports it. Files are written to a local staging directory by DuckDB, then uploaded with one PUT:
 * an object appears whole or not at all.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WarehouseError, WarehouseUnavailableError } from '../../errors.js';
import type { LakeStore } from './store.js';

export interface S3LakeOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending without '/'). */
  prefix: string;
  /** Endpoint URL of an S3-compatible store (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS). */
  endpoint?: string;
  /** Region (default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1). */
  region?: string;
  /** Path-style addressing (default: on when an endpoint is set, from $AWS_S3_FORCE_PATH_STYLE when given). */
  forcePathStyle?: boolean;
  /** Where files are staged before upload (default: the OS temp dir). */
  stagingDir?: string;
  /**
   * Whether the store rejects a PUT with `If-None-Match: *` when the key exists (AWS S3 does since 2024). Off: the
   * marker's absence is checked with a HEAD first, which two writers racing for the same offsets can both pass.
   */
  conditionalWrites?: boolean;
}

/** Options for S3Client from the options and the standard AWS environment variables (credentials: the SDK's chain). */
export function s3ClientConfig(o: Pick<S3LakeOptions, 'endpoint' | 'region' | 'forcePathStyle'>, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = o.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const envPathStyle = env.AWS_S3_FORCE_PATH_STYLE;
  const forcePathStyle = o.forcePathStyle ?? (envPathStyle !== undefined ? /^(1|true|yes)$/i.test(envPathStyle) : endpoint !== undefined);
  const cfg: S3ClientConfig = {
    region: o.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle,
    // The loader retries with its own backoff and log lines ("waiting for the warehouse …"); the SDK retries briefly.
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
  };
  if (endpoint) cfg.endpoint = endpoint;
  return cfg;
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeTooSkewed', 'SlowDown', 'ServiceUnavailable', 'InternalError', 'ThrottlingException', 'NetworkingError']);

export class S3LakeStore implements LakeStore {
  readonly description: string;
  readonly exclusiveCreate: boolean;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly staging: string;

  constructor(private readonly options: S3LakeOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    this.description = `lake:s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.client = new S3Client(s3ClientConfig(options));
    this.exclusiveCreate = options.conditionalWrites ?? true;
    this.staging = join(options.stagingDir ?? tmpdir(), `multidispatch-lake-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  private key(k: string): string {
    return this.prefix ? `${this.prefix}/${k}` : k;
  }

  private classify(what: string, err: unknown): Error {
    const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
    const status = e?.$metadata?.httpStatusCode;
    const code = e?.code ?? e?.cause?.code;
    const detail = `${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(err)}`;
    const msg = `${what}: ${detail}${status ? ` (HTTP ${status})` : ''}`;
    if (e?.name === 'CredentialsProviderError') {
      return new WarehouseError(
        this.description,
        `${what}: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with a role)`,
        { cause: err },
      );
    }
    if ((code && TRANSIENT_CODES.has(code)) || (e?.name && TRANSIENT_NAMES.has(e.name)) || (status !== undefined && (status >= 500 || status === 429)) || (!(err instanceof S3ServiceException) && status === undefined)) {
      return new WarehouseUnavailableError(this.description, msg, { cause: err });
    }
    return new WarehouseError(this.description, msg, { cause: err });
  }

  async open(): Promise<void> {
    // Staging directories of loaders that died (SIGKILL) on this machine: their process is gone.
    const base = this.options.stagingDir ?? tmpdir();
    try {
      for (const name of readdirSync(base)) {
        const m = /^multidispatch-lake-(\d+)-[0-9a-f]+$/.exec(name);
        if (m && !alive(Number(m[1]))) rmSync(join(base, name), { recursive: true, force: true });
      }
    } catch {
      /* best effort */
    }
    await fsp.mkdir(this.staging, { recursive: true });
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) throw new WarehouseError(this.description, `bucket ${this.bucket} does not exist (create it first)`, { cause: err });
      if (status === 403) throw new WarehouseError(this.description, `access to bucket ${this.bucket} denied (check the credentials and the IAM policy in docs/lake.md)`, { cause: err });
      throw this.classify(`cannot reach bucket ${this.bucket}`, err);
    }
  }

  async stagingPath(key: string, writer: string): Promise<string> {
    await fsp.mkdir(this.staging, { recursive: true });
    return join(this.staging, `${key.replace(/[^A-Za-z0-9._=-]+/g, '_')}.${writer}.tmp`);
  }

  async publish(staged: string, key: string): Promise<void> {
    const body = await fsp.readFile(staged);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: body, ContentLength: body.length, ContentType: 'application/vnd.apache.parquet' }));
    } catch (err) {
      throw this.classify(`cannot upload ${key}`, err);
    }
    await fsp.rm(staged, { force: true });
  }

  async putText(key: string, body: string, opts: { exclusive?: boolean } = {}): Promise<boolean> {
    try {
      if (opts.exclusive && !this.exclusiveCreate) {
        if (await this.exists(key)) return false;
      }
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: body,
          ContentType: 'application/json',
          ...(opts.exclusive && this.exclusiveCreate ? { IfNoneMatch: '*' } : {}),
        }),
      );
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 412: the key exists. 409: a concurrent conditional write to the same key is in progress.
      if (opts.exclusive && (status === 412 || status === 409)) return false;
      throw this.classify(`cannot write ${key}`, err);
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return false;
      throw this.classify(`cannot check ${key}`, err);
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return await r.Body!.transformToString('utf8');
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw this.classify(`cannot read ${key}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const full = this.key(prefix);
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    try {
      do {
        const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }));
        for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key.slice(strip));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.classify(`cannot list ${prefix}`, err);
    }
    return out.sort();
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      try {
        const r = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((k) => ({ Key: this.key(k) })), Quiet: true } }));
        const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) throw new WarehouseUnavailableError(this.description, `cannot delete ${failed.length} object(s), e.g. ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`);
      } catch (err) {
        if (err instanceof WarehouseUnavailableError || err instanceof WarehouseError) throw err;
        throw this.classify(`cannot delete ${chunk.length} object(s)`, err);
      }
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    if (existsSync(this.staging)) rmSync(this.staging, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
