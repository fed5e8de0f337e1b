/**
 * The gofakes3 dev server (src/dev/s3-server.ts) against the real AWS SDK v3: the S3 calls the lake makes, listing
 * past 1,000 keys, persistence across a stop and restart, and what gofakes3 v1.2.0 does with conditional writes,
 * multipart uploads and signatures (asserted as observed, so a change of behaviour in a new version shows up here).
 * Needs no Kafka: the file starts its own server in a temp dir.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { isAlive } from '../../src/dev/process.js';
import { startS3Server, type S3ServerHandle } from '../../src/dev/s3-server.js';

let s3: S3ServerHandle;
let dir: string;
let client: S3Client;
/** An upload the multipart test leaves incomplete, for the restart test. */
let pendingUploadId: string | undefined;

function makeClient(secretAccessKey = s3.env.AWS_SECRET_ACCESS_KEY!, accessKeyId = s3.env.AWS_ACCESS_KEY_ID!): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000 },
  });
}

/** The error a rejected SDK call gave (fails when it did not reject). */
async function failure(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number }; code?: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
    return err as Error & { $metadata?: { httpStatusCode?: number } };
  }
  assert.fail('expected the request to fail');
}

async function put(key: string, body: string | Uint8Array): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
}

async function getText(key: string): Promise<string> {
  const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return res.Body!.transformToString();
}

/** Every key under a prefix, following ContinuationToken; also returns the size of each page. */
async function listAll(prefix: string): Promise<{ keys: string[]; pages: number[] }> {
  const keys: string[] = [];
  const pages: number[] = [];
  let token: string | undefined;
  for (;;) {
    const res: ListObjectsV2CommandOutput = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }));
    const page = (res.Contents ?? []).map((c) => c.Key!);
    keys.push(...page);
    pages.push(page.length);
    // gofakes3 omits <KeyCount> when it is 0 (AWS sends <KeyCount>0</KeyCount>): the SDK then gives undefined.
    assert.equal(res.KeyCount, page.length === 0 ? undefined : page.length);
    if (!res.IsTruncated) {
      assert.equal(res.NextContinuationToken, undefined);
      return { keys, pages };
    }
    assert.ok(res.NextContinuationToken, 'a truncated page carries NextContinuationToken');
    token = res.NextContinuationToken;
  }
}

/** Runs `fn` over `items` with at most `width` calls in flight. */
async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const MANY = 1_100;
const manyKey = (i: number): string => `many/obj-${String(i).padStart(5, '0')}.json`;

describe('gofakes3 S3 dev server', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'md-s3-test-'));
    s3 = await startS3Server({ dataDir: join(dir, 'data') });
    client = makeClient();
  });

  after(async () => {
    client?.destroy();
    await s3?.stop();
    if (s3) assert.equal(isAlive(s3.pid), false, 'the server is gone after stop()');
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes itself: loopback endpoint, bucket lake, AWS_* env with dummy credentials', () => {
    assert.equal(s3.endpoint, `http://127.0.0.1:${s3.port}`);
    assert.equal(s3.host, '127.0.0.1');
    assert.equal(s3.bucket, 'lake');
    assert.equal(s3.dataDir, join(dir, 'data'));
    assert.ok(isAlive(s3.pid));
    assert.equal(s3.env.AWS_ENDPOINT_URL_S3, s3.endpoint);
    assert.equal(s3.env.AWS_REGION, 'us-east-1');
    assert.ok(s3.env.AWS_ACCESS_KEY_ID && s3.env.AWS_SECRET_ACCESS_KEY);
  });

  it('puts, gets, lists past 1,000 keys with ContinuationToken, filters by prefix and delimiter, deletes in bulk', async () => {
    const keys = Array.from({ length: MANY }, (_, i) => manyKey(i));
    await inParallel(keys, 16, (k) => put(k, JSON.stringify({ k })));
    await put('other/a.json', 'A');
    await put('other/deeper/b.json', 'B');
    await put('top.json', 'T');

    assert.equal(await getText(manyKey(7)), JSON.stringify({ k: manyKey(7) }));
    assert.equal(await getText('other/deeper/b.json'), 'B');

    // Pagination: 1,000 keys per page (the default and maximum of MaxKeys), sorted, none twice.
    const listed = await listAll('many/');
    assert.deepEqual(listed.pages, [1000, 100]);
    assert.deepEqual(listed.keys, keys, 'every key once, in lexicographic order');
    // An explicit small MaxKeys pages the same way.
    const small = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'many/', MaxKeys: 3 }));
    assert.deepEqual(small.Contents?.map((c) => c.Key), keys.slice(0, 3));
    assert.equal(small.IsTruncated, true);
    const small2 = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'many/', MaxKeys: 3, ContinuationToken: small.NextContinuationToken }));
    assert.deepEqual(small2.Contents?.map((c) => c.Key), keys.slice(3, 6));
    // StartAfter (used without a token).
    const after = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'many/', MaxKeys: 2, StartAfter: manyKey(1097) }));
    assert.deepEqual(after.Contents?.map((c) => c.Key), [manyKey(1098), manyKey(1099)]);
    assert.equal(after.IsTruncated, false);

    // Prefix only, no delimiter: everything below, at any depth.
    assert.deepEqual((await listAll('other/')).keys, ['other/a.json', 'other/deeper/b.json']);
    // A prefix that is not a "directory" matches by string prefix.
    assert.deepEqual((await listAll('other/a')).keys, ['other/a.json']);
    assert.deepEqual((await listAll('nothing-here/')).keys, []);
    // Delimiter: one level, with CommonPrefixes.
    const top = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Delimiter: '/' }));
    assert.deepEqual(top.Contents?.map((c) => c.Key), ['top.json']);
    assert.deepEqual(top.CommonPrefixes?.map((p) => p.Prefix), ['many/', 'other/']);
    const other = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'other/', Delimiter: '/' }));
    assert.deepEqual(other.Contents?.map((c) => c.Key), ['other/a.json']);
    assert.deepEqual(other.CommonPrefixes?.map((p) => p.Prefix), ['other/deeper/']);
    // Sizes and ETags (quoted MD5) in the listing.
    const one = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'top.json' }));
    assert.equal(one.Contents?.[0]?.Size, 1);
    assert.match(one.Contents?.[0]?.ETag ?? '', /^"[0-9a-f]{32}"$/);

    // Missing keys: GetObject NoSuchKey 404, HeadObject NotFound 404 (a HEAD response has no body to name the code).
    const missingGet = await failure(client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'many/missing' })));
    assert.equal(missingGet.name, 'NoSuchKey');
    assert.equal(missingGet.$metadata?.httpStatusCode, 404);
    const missingHead = await failure(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'many/missing' })));
    assert.equal(missingHead.name, 'NotFound');
    assert.equal(missingHead.$metadata?.httpStatusCode, 404);
    // A missing bucket: NoSuchBucket 404.
    const noBucket = await failure(client.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })));
    assert.equal(noBucket.name, 'NoSuchBucket');
    assert.equal(noBucket.$metadata?.httpStatusCode, 404);

    // DeleteObjects works: the last 100 keys plus one that never existed (reported deleted, as on AWS).
    const doomed = keys.slice(1000);
    const del = await client.send(new DeleteObjectsCommand({
      Bucket: s3.bucket,
      Delete: { Objects: [...doomed, 'many/never-existed'].map((Key) => ({ Key })) },
    }));
    assert.equal(del.Errors?.length ?? 0, 0);
    assert.deepEqual(new Set(del.Deleted?.map((d) => d.Key)), new Set([...doomed, 'many/never-existed']));
    const afterDelete = await listAll('many/');
    assert.deepEqual(afterDelete.pages, [1000]);
    assert.deepEqual(afterDelete.keys, keys.slice(0, 1000));
    assert.equal((await failure(client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: doomed[0] })))).name, 'NoSuchKey');
  });

  it('honours PutObject If-None-Match: * (412 PreconditionFailed when the key exists) and If-Match', async () => {
    const key = 'cond/marker.json';
    const first = await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'first', IfNoneMatch: '*' }));
    assert.match(first.ETag ?? '', /^"[0-9a-f]{32}"$/);
    const again = await failure(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'second', IfNoneMatch: '*' })));
    assert.ok(again instanceof S3ServiceException);
    assert.equal(again.name, 'PreconditionFailed');
    assert.equal(again.$metadata?.httpStatusCode, 412);
    assert.equal(await getText(key), 'first', 'the refused PUT changed nothing');

    // Racing writers of the same new key: exactly one wins (the check is inside the bolt write transaction).
    const raceKey = 'cond/race.json';
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) =>
      client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: raceKey, Body: `writer-${i}`, IfNoneMatch: '*' }))));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    assert.equal(won.length, 1, 'exactly one conditional PUT succeeds');
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'PreconditionFailed');
    assert.equal(await getText(raceKey), `writer-${won[0]}`);

    // If-Match: a stale ETag is refused with 412, the current one is accepted.
    const stale = await failure(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'x', IfMatch: '"00000000000000000000000000000000"' })));
    assert.equal(stale.$metadata?.httpStatusCode, 412);
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'third', IfMatch: first.ETag }));
    assert.equal(await getText(key), 'third');
    // An unconditional PUT overwrites.
    await put(key, 'fourth');
    assert.equal(await getText(key), 'fourth');
  });

  it('completes a multipart upload; an incomplete or aborted one is invisible to ListObjectsV2', async () => {
    const key = 'mpu/big.bin';
    const part1 = Buffer.alloc(5 * 1024 * 1024, 'a'); // AWS's minimum size for all but the last part
    const part2 = Buffer.from('tail');
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    assert.ok(UploadId);
    const p1 = await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 2, Body: part2 }));

    // Parts uploaded, not completed: no object, but ListMultipartUploads shows the upload.
    assert.deepEqual((await listAll('mpu/')).keys, []);
    assert.equal((await failure(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key })))).name, 'NotFound');
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'mpu/' }));
    assert.deepEqual(uploads.Uploads?.map((u) => [u.Key, u.UploadId]), [[key, UploadId]]);

    const done = await client.send(new CompleteMultipartUploadCommand({
      Bucket: s3.bucket, Key: key, UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] },
    }));
    assert.match(done.ETag ?? '', /^"[0-9a-f]{32}-2"$/, 'the multipart ETag form: md5 of the part md5s, -<parts>');
    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    assert.equal(head.ContentLength, part1.length + part2.length);
    const got = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToByteArray());
    assert.ok(got.equals(Buffer.concat([part1, part2])));
    assert.deepEqual((await listAll('mpu/')).keys, [key]);

    // An aborted upload leaves nothing behind.
    const aborted = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mpu/aborted.bin' }));
    await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: 'mpu/aborted.bin', UploadId: aborted.UploadId, PartNumber: 1, Body: 'x' }));
    await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mpu/aborted.bin', UploadId: aborted.UploadId }));
    assert.deepEqual((await listAll('mpu/')).keys, [key]);

    // One left incomplete for the restart test (uploads in progress live in memory only).
    pendingUploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mpu/pending.bin' }))).UploadId;
    assert.deepEqual((await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'mpu/' }))).Uploads?.map((u) => u.Key), ['mpu/pending.bin']);
    assert.deepEqual((await listAll('mpu/')).keys, [key]);
  });

  it('does NOT verify request signatures: a wrong secret key or an unknown access key is accepted', async () => {
    const wrongSecret = makeClient('definitely-not-the-secret');
    const unknownKey = makeClient('another-secret', 'AKIAUNKNOWN');
    try {
      await wrongSecret.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'sig/wrong-secret', Body: 'accepted' }));
      await unknownKey.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'sig/unknown-key', Body: 'accepted' }));
      const listed = await wrongSecret.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'sig/' }));
      assert.deepEqual(listed.Contents?.map((c) => c.Key), ['sig/unknown-key', 'sig/wrong-secret']);
    } finally {
      wrongSecret.destroy();
      unknownKey.destroy();
    }
    // Even an unsigned request works.
    const res = await fetch(`${s3.endpoint}/${s3.bucket}/sig/wrong-secret`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'accepted');
  });

  it('keeps every object across a stop and a restart on the same port (bolt backend)', async () => {
    const port = s3.port;
    const firstPid = s3.pid;
    await s3.stop();
    assert.equal(isAlive(firstPid), false);
    // A new connection is refused. (A client that had a kept-alive connection may instead see ECONNRESET /
    // 'socket hang up' on its first request: the SDK reuses the pooled socket the server's exit closed.)
    const fresh = makeClient();
    try {
      const down = await failure(fresh.send(new ListObjectsV2Command({ Bucket: s3.bucket, MaxKeys: 1 })));
      assert.equal(down.$metadata?.httpStatusCode, undefined, `no HTTP answer while stopped (got ${down.name}: ${down.message})`);
      assert.match(`${down.name} ${down.message} ${(down as { code?: string }).code ?? ''}`, /ECONNREFUSED/);
    } finally {
      fresh.destroy();
    }
    const pooled = await failure(client.send(new ListObjectsV2Command({ Bucket: s3.bucket, MaxKeys: 1 })));
    assert.equal(pooled.$metadata?.httpStatusCode, undefined, `no HTTP answer while stopped (got ${pooled.name}: ${pooled.message})`);
    assert.match(`${pooled.name} ${pooled.message} ${(pooled as { code?: string }).code ?? ''}`, /ECONNREFUSED|ECONNRESET|socket hang up/);
    await s3.stop(); // a second stop is a no-op

    await s3.restart();
    assert.equal(s3.port, port);
    assert.notEqual(s3.pid, firstPid);
    assert.ok(isAlive(s3.pid));
    const listed = await listAll('many/');
    assert.deepEqual(listed.keys, Array.from({ length: 1000 }, (_, i) => manyKey(i)), 'the 1,000 remaining keys, and not the deleted 100');
    assert.equal(await getText(manyKey(999)), JSON.stringify({ k: manyKey(999) }));
    assert.equal(await getText('cond/marker.json'), 'fourth');
    assert.equal((await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'mpu/big.bin' }))).ContentLength, 5 * 1024 * 1024 + 4);
    // The conditional write still sees the persisted object.
    assert.equal((await failure(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'cond/marker.json', Body: 'x', IfNoneMatch: '*' })))).name, 'PreconditionFailed');
    // The incomplete multipart upload did not survive: gofakes3 keeps uploads in progress in memory. Quirk: with no
    // upload started in a bucket since the server started, ListMultipartUploads answers 404 NoSuchUpload (AWS: an
    // empty list).
    const noUploads = await failure(client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'mpu/' })));
    assert.equal(noUploads.name, 'NoSuchUpload');
    assert.equal(noUploads.$metadata?.httpStatusCode, 404);
    assert.ok(pendingUploadId);
    const lostPart = await failure(client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: 'mpu/pending.bin', UploadId: pendingUploadId, PartNumber: 1, Body: 'x' })));
    assert.equal(lostPart.name, 'NoSuchUpload');
    assert.deepEqual((await listAll('mpu/')).keys, ['mpu/big.bin']);

    // restart() while running: stops and starts again.
    const secondPid = s3.pid;
    await s3.restart();
    assert.equal(isAlive(secondPid), false);
    assert.deepEqual((await listAll('other/')).keys, ['other/a.json', 'other/deeper/b.json']);
  });
});
