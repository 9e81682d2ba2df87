// The artifact store: every activity reads and writes S3 through this class.
//
// Commit protocol: a step writes its objects under a deterministic prefix, then calls `commit(prefix,
// entries)`, which writes `<prefix>/_manifest.json` LAST. Readers trust only committed prefixes and verify
// each object's size and sha256 against the manifest. A retried step lands on the same keys and rewrites
// the same manifest.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3ServerSideEncryption, S3Settings } from '../config';
import {
  ChecksumMismatchError,
  MalformedJsonlError,
  MalformedManifestError,
  MissingBucketError,
  ObjectNotFoundError,
  StoreAccessError,
  StoreError,
  StoreUsageError,
  UncommittedArtifactError,
} from './errors';
import { followHash, ReportingWriteStream } from './follow-hash';
import { ByteCounter, sha256Hex } from './hashing';
import { canonicalJson, MANIFEST_NAME, MANIFEST_VERSION, manifestSchema, type Manifest, type ManifestEntry } from './manifest';
import { parseJsonl } from './jsonl';
import { toStoreError } from './s3-errors';
import { joinKey, normalizePrefix } from './s3-uri';

/** What a write returns: the object's key (absolute in the bucket), byte size and sha256 (hex). */
export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
}

export interface ArtifactStoreOptions {
  s3: S3Client;
  bucket: string;
  /** Multipart part size in bytes (default 16 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded concurrently (default 4). */
  queueSize?: number;
  /** Files larger than this go up by multipart upload; smaller ones in one streamed PutObject (default 1 GiB). */
  multipartThreshold?: number;
  /** Endpoint shown in error messages (default: resolved from the client). */
  endpoint?: string;
  /** Server-side encryption header(s) sent with every object write (S3_SSE / S3_SSE_KMS_KEY_ID). */
  sse?: S3ServerSideEncryption;
}

export interface ReadVerifyOptions {
  /** Verify the bytes against this size and sha256 (from a manifest); throws ChecksumMismatchError. */
  expect?: { size: number; sha256: string };
}

/** An entry to commit: an absolute key under the prefix or a key relative to it. */
export type CommitEntry = StoredObject | ManifestEntry;

const MIB = 1024 * 1024;
/** Committed objects at least this large are hashed on another thread while they download (follow-hash.ts). */
const FOLLOW_HASH_MIN_BYTES = 8 * MIB;

/** Creates an S3 client for the settings. The store hashes every object itself (sha256), so the SDK's
 * optional per-request CRC checksums are off unless an operation requires them. */
export function createS3Client(s3: Pick<S3Settings, 'endpoint' | 'region' | 'forcePathStyle' | 'credentials'>): S3Client {
  // The project pins Node 20 (see package.json engines); the SDK's notice about future versions is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    // A held connection must not hang an activity until its heartbeat times out: give up on a socket that
    // stays silent (idle, not total time, so large streamed transfers are fine) and retry.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
    ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
    ...(s3.credentials !== undefined ? { credentials: s3.credentials } : {}),
  });
}

export class ArtifactStore {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly partSize: number;
  readonly queueSize: number;
  readonly multipartThreshold: number;
  private endpointLabel: string | undefined;
  /** ServerSideEncryption / SSEKMSKeyId parameters for PutObject, CreateMultipartUpload and Upload. */
  private readonly sseParams: { ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string };

  constructor(options: ArtifactStoreOptions) {
    this.sseParams = options.sse ? { ServerSideEncryption: options.sse.algorithm, ...(options.sse.kmsKeyId ? { SSEKMSKeyId: options.sse.kmsKeyId } : {}) } : {};
    this.s3 = options.s3;
    this.bucket = options.bucket;
    this.partSize = Math.max(5 * MIB, options.partSize ?? 16 * MIB);
    this.queueSize = Math.max(1, options.queueSize ?? 4);
    this.multipartThreshold = Math.max(this.partSize, options.multipartThreshold ?? 1024 * MIB);
    this.endpointLabel = options.endpoint;
  }

  /** A store on the configured endpoint/bucket/credentials (see shared/config.ts). */
  static fromConfig(config: { s3: S3Settings }): ArtifactStore {
    const s3 = config.s3;
    return new ArtifactStore({
      s3: createS3Client(s3),
      bucket: s3.bucket,
      partSize: s3.partSize,
      queueSize: s3.queueSize,
      multipartThreshold: s3.multipartThreshold,
      endpoint: s3.endpoint ?? `AWS S3 (${s3.region})`,
      ...(s3.sse ? { sse: s3.sse } : {}),
    });
  }

  /** `s3://bucket/key` for a key of this store. */
  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  // ---------------------------------------------------------------- bucket

  /** Checks that the endpoint answers, the credentials work and the bucket exists (HeadBucket). */
  async checkBucket(): Promise<void> {
    await this.call(undefined, async () => {
      try {
        await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
      } catch (err) {
        // HEAD responses carry no error code: some servers (versitygw) answer an unknown access key with 404.
        // A one-key listing returns the coded error that tells a missing bucket from rejected credentials.
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw err;
        await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1 }));
        throw err;
      }
    });
  }

  /** Creates the bucket if it does not exist (dev stack and tests). */
  async ensureBucket(): Promise<void> {
    try {
      await this.checkBucket();
      return;
    } catch (err) {
      if ((err as Error).name !== 'MissingBucketError') throw err;
    }
    await this.call(undefined, async () => {
      try {
        await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (err) {
        const name = (err as Error).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
      }
    });
  }

  // ---------------------------------------------------------------- objects

  /** Writes bytes (or UTF-8 text) in one PutObject. */
  async putBytes(key: string, body: Uint8Array | string, contentType?: string): Promise<StoredObject> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await this.call(key, () =>
      this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, ContentType: contentType, ...this.sseParams })),
    );
    return { key, size: bytes.byteLength, sha256: sha256Hex(bytes) };
  }

  /** Writes a value as pretty, key-sorted JSON (deterministic bytes). */
  async putJson(key: string, value: unknown): Promise<StoredObject> {
    return this.putBytes(key, `${canonicalJson(value)}\n`, 'application/json');
  }

  /** Reads a whole object into memory; verifies it when `expect` is given. */
  async getBytes(key: string, options: ReadVerifyOptions = {}): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.getStream(key, options)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async getText(key: string, options: ReadVerifyOptions = {}): Promise<string> {
    return (await this.getBytes(key, options)).toString('utf8');
  }

  async getJson<T = unknown>(key: string, options: ReadVerifyOptions = {}): Promise<T> {
    const text = await this.getText(key, options);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new StoreError(`invalid JSON in ${this.uri(key)}: ${(err as Error).message}`);
    }
  }

  /** Streams any byte source to an object (multipart above the part size), hashing on the way. */
  async putStream(key: string, source: AsyncIterable<Uint8Array | string>, contentType?: string): Promise<StoredObject> {
    const counter = new ByteCounter();
    const body = Readable.from(counter.tap(source), { objectMode: false });
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ...this.sseParams },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    await this.call(key, () => upload.done());
    return { key, size: counter.size, sha256: counter.digest() };
  }

  /** Uploads a local file while a second reader hashes it. Up to the part size: read and PutObject. Up to
   * the multipart threshold: one PutObject streamed from the file. Larger: multipart, parts streamed straight
   * from file ranges (`queueSize` in parallel). Each request is retried with a fresh file stream. */
  async putFile(key: string, path: string, contentType?: string): Promise<StoredObject> {
    const info = await stat(path).catch(() => {
      throw new StoreUsageError(`cannot upload ${path} to ${this.uri(key)}: file not found`);
    });
    if (!info.isFile()) throw new StoreUsageError(`cannot upload ${path} to ${this.uri(key)}: not a regular file`);
    if (info.size <= this.partSize) {
      const bytes = await readFile(path);
      return this.putBytes(key, bytes, contentType);
    }
    const hashing = hashFile(path);
    if (info.size <= this.multipartThreshold) {
      try {
        await this.withRetries(key, () =>
          this.s3.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: key,
              ContentLength: info.size,
              ContentType: contentType,
              Body: createReadStream(path, { highWaterMark: MIB }),
              ...this.sseParams,
            }),
          ),
        );
      } catch (err) {
        await hashing.catch(() => undefined);
        throw err;
      }
      const { size, sha256 } = await hashing;
      if (size !== info.size) throw new StoreError(`${path} changed size during upload to ${this.uri(key)} (${info.size} -> ${size} B)`);
      return { key, size, sha256 };
    }
    const upload = await this.call(key, () =>
      this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType, ...this.sseParams })),
    );
    const uploadId = upload.UploadId;
    if (!uploadId) throw new StoreError(`S3 returned no upload id for ${this.uri(key)}`);
    try {
      const count = Math.ceil(info.size / this.partSize);
      if (count > 10_000) throw new StoreUsageError(`${path} needs ${count} parts of ${this.partSize} B (S3 allows 10000): raise S3_PART_SIZE_MB`);
      const parts = await mapLimit(
        Array.from({ length: count }, (_, i) => i),
        this.queueSize,
        async (i) => {
          const start = i * this.partSize;
          const length = Math.min(this.partSize, info.size - start);
          const out = await this.withRetries(key, () =>
            this.s3.send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key: key,
                UploadId: uploadId,
                PartNumber: i + 1,
                ContentLength: length,
                Body: createReadStream(path, { start, end: start + length - 1, highWaterMark: MIB }),
              }),
            ),
          );
          return { PartNumber: i + 1, ETag: out.ETag };
        },
      );
      const { size, sha256 } = await hashing;
      if (size !== info.size) throw new StoreError(`${path} changed size during upload to ${this.uri(key)} (${info.size} -> ${size} B)`);
      await this.call(key, () =>
        this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
      );
      return { key, size, sha256 };
    } catch (err) {
      await hashing.catch(() => undefined);
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw err;
    }
  }

  /** Streams an object's bytes. With `expect`, size is checked first and sha256 at the end of the stream. */
  async *getStream(key: string, options: ReadVerifyOptions = {}): AsyncGenerator<Buffer> {
    const body = await this.openBody(key, options.expect);
    const counter = new ByteCounter();
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        counter.update(chunk);
        yield chunk;
      }
    } catch (err) {
      throw toStoreError(err, { endpoint: await this.endpoint(), bucket: this.bucket, key });
    } finally {
      body.destroy();
    }
    this.verify(key, { size: counter.size, sha256: counter.digest() }, options.expect);
  }

  /** Downloads an object to a local file (streamed; written to a temp name, renamed when complete and verified). */
  async getFile(key: string, path: string, options: ReadVerifyOptions = {}): Promise<StoredObject> {
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.partial-${randomBytes(4).toString('hex')}`;
    // A large object is hashed on another thread while it is written (follow-hash.ts); others as they stream.
    const follow = (options.expect?.size ?? 0) >= FOLLOW_HASH_MIN_BYTES ? followHash(partial) : null;
    let got: { size: number; sha256: string };
    try {
      const body = await this.openBody(key, options.expect);
      const fail = async (err: unknown): Promise<never> => {
        if ((err as NodeJS.ErrnoException).syscall === 'open' || (err as NodeJS.ErrnoException).syscall === 'write') throw err;
        throw toStoreError(err, { endpoint: await this.endpoint(), bucket: this.bucket, key });
      };
      if (follow) {
        const out = new ReportingWriteStream(partial, { highWaterMark: MIB });
        out.onWritten = follow.written;
        await pipeline(body, out).catch(fail);
        got = await follow.finish();
      } else {
        const counter = new ByteCounter();
        const hasher = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            counter.update(chunk);
            done(null, chunk);
          },
        });
        await pipeline(body, hasher, createWriteStream(partial, { highWaterMark: MIB })).catch(fail);
        got = { size: counter.size, sha256: counter.digest() };
      }
      this.verify(key, got, options.expect);
      await rename(partial, path);
    } catch (err) {
      follow?.abort();
      await rm(partial, { force: true });
      throw err;
    }
    return { key, ...got };
  }

  /** GetObject's body; with `expect`, a wrong Content-Length fails before any byte is read. */
  private async openBody(key: string, expect: ReadVerifyOptions['expect']): Promise<Readable> {
    const response = await this.call(key, () => this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
    const body = response.Body as Readable | undefined;
    if (!body) throw new StoreError(`S3 returned no body for ${this.uri(key)}`);
    if (expect && response.ContentLength !== undefined && response.ContentLength !== expect.size) {
      body.destroy();
      throw new ChecksumMismatchError(this.bucket, key, expect, { size: response.ContentLength });
    }
    return body;
  }

  private verify(key: string, got: { size: number; sha256: string }, expect: ReadVerifyOptions['expect']): void {
    if (!expect) return;
    if (got.size !== expect.size || got.sha256 !== expect.sha256) {
      throw new ChecksumMismatchError(this.bucket, key, expect, { size: got.size, sha256: got.sha256 });
    }
  }

  /** Size of an object, or null when it does not exist. */
  async head(key: string): Promise<{ size: number } | null> {
    try {
      const out = await this.call(key, () => this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return { size: out.ContentLength ?? 0 };
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return null;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== null;
  }

  /** Every object under `prefix/` (recursive), sorted by key. */
  async list(prefix: string): Promise<Array<{ key: string; size: number }>> {
    const base = `${normalizePrefix(prefix)}/`;
    const out: Array<{ key: string; size: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.call(base, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, ContinuationToken: token })),
      );
      for (const obj of page.Contents ?? []) if (obj.Key) out.push({ key: obj.Key, size: obj.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Deletes every object under `prefix/`, the manifest first (so a half-deleted artifact is never committed). */
  async deletePrefix(prefix: string): Promise<number> {
    const p = normalizePrefix(prefix);
    const manifestKey = joinKey(p, MANIFEST_NAME);
    const keys = (await this.list(p)).map((o) => o.key);
    const ordered = [...keys.filter((k) => k === manifestKey), ...keys.filter((k) => k !== manifestKey)];
    for (let i = 0; i < ordered.length; i += 1000) {
      const batch = ordered.slice(i, i + 1000);
      const out = await this.call(p, () =>
        this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      const failed = out.Errors?.[0];
      if (failed) throw new StoreError(`could not delete ${this.uri(failed.Key ?? p)}: ${failed.Code ?? ''} ${failed.Message ?? ''}`.trim());
    }
    return ordered.length;
  }

  // ---------------------------------------------------------------- JSONL

  /** Streams rows as JSON Lines to an object (multipart for large outputs). Returns the row count too. */
  async writeJsonl(key: string, rows: Iterable<unknown> | AsyncIterable<unknown>): Promise<StoredObject & { rows: number }> {
    let count = 0;
    const lines = async function* (): AsyncGenerator<string> {
      let batch = '';
      for await (const row of rows as AsyncIterable<unknown>) {
        const line = JSON.stringify(row);
        if (line === undefined) throw new StoreUsageError(`row ${count + 1} of ${key} is not JSON-serializable`);
        batch += `${line}\n`;
        count += 1;
        if (batch.length >= 256 * 1024) {
          yield batch;
          batch = '';
        }
      }
      if (batch) yield batch;
    };
    const stored = await this.putStream(key, lines(), 'application/x-ndjson');
    return { ...stored, rows: count };
  }

  /** Reads JSON Lines as they stream in. Blank lines are skipped; a bad line throws MalformedJsonlError
   * with its 1-based line number. With `expect`, a checksum mismatch throws after the last row. */
  async *readJsonl<T = unknown>(key: string, options: ReadVerifyOptions = {}): AsyncGenerator<T> {
    yield* parseJsonl<T>(this.getStream(key, options), ({ line, reason }) => {
      throw new MalformedJsonlError(this.bucket, key, line, reason);
    });
  }

  // ---------------------------------------------------------------- commit protocol

  /** Writes `<prefix>/_manifest.json` listing `entries` (checked to exist with the recorded size). Call it
   * LAST, after every object of the step is written. Entries are sorted; the bytes are deterministic. */
  async commit(prefix: string, entries: CommitEntry[], meta: Record<string, unknown> = {}): Promise<Manifest> {
    const p = normalizePrefix(prefix);
    const seen = new Set<string>();
    const normalized: ManifestEntry[] = entries.map((e) => {
      const rel = e.key.startsWith(`${p}/`) ? e.key.slice(p.length + 1) : e.key;
      if (rel === '' || rel.startsWith('/') || rel.split('/').some((s) => s === '..' || s === '.' || s === '')) {
        throw new StoreUsageError(`cannot commit '${e.key}' under ${this.uri(p)}/: not a key inside the prefix`);
      }
      if (rel === MANIFEST_NAME) throw new StoreUsageError(`cannot commit '${MANIFEST_NAME}' as an entry of ${this.uri(p)}/`);
      if (seen.has(rel)) throw new StoreUsageError(`duplicate entry '${rel}' in commit of ${this.uri(p)}/`);
      seen.add(rel);
      return { key: rel, size: e.size, sha256: e.sha256 };
    });
    normalized.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    await mapLimit(normalized, 8, async (e) => {
      const head = await this.head(joinKey(p, e.key));
      if (!head) throw new StoreUsageError(`cannot commit ${this.uri(p)}/: entry ${this.uri(joinKey(p, e.key))} does not exist`);
      if (head.size !== e.size) {
        throw new ChecksumMismatchError(this.bucket, joinKey(p, e.key), e, { size: head.size });
      }
    });
    const manifest: Manifest = { version: MANIFEST_VERSION, prefix: p, entries: normalized, meta };
    await this.putBytes(joinKey(p, MANIFEST_NAME), `${canonicalJson(manifest)}\n`, 'application/json');
    return manifest;
  }

  /** The committed manifest of a prefix, or null when the prefix is not committed. */
  async getManifest(prefix: string): Promise<Manifest | null> {
    const p = normalizePrefix(prefix);
    const key = joinKey(p, MANIFEST_NAME);
    let text: string;
    try {
      text = await this.getText(key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return null;
      throw err;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new MalformedManifestError(this.bucket, key, (err as Error).message);
    }
    const parsed = manifestSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new MalformedManifestError(this.bucket, key, `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    if (parsed.data.prefix !== p) throw new MalformedManifestError(this.bucket, key, `records prefix '${parsed.data.prefix}', expected '${p}'`);
    return parsed.data as Manifest;
  }

  async isCommitted(prefix: string): Promise<boolean> {
    return (await this.getManifest(prefix)) !== null;
  }

  /** The manifest, or UncommittedArtifactError. */
  async requireManifest(prefix: string): Promise<Manifest> {
    const manifest = await this.getManifest(prefix);
    if (!manifest) throw new UncommittedArtifactError(this.bucket, normalizePrefix(prefix));
    return manifest;
  }

  /** The manifest entry `name` of a committed prefix (UncommittedArtifactError when absent). */
  async committedEntry(prefix: string, name: string): Promise<ManifestEntry> {
    const manifest = await this.requireManifest(prefix);
    const entry = manifest.entries.find((e) => e.key === name);
    if (!entry) {
      throw new UncommittedArtifactError(this.bucket, manifest.prefix, `its manifest has no entry '${name}' (has ${manifest.entries.length}: ${manifest.entries.slice(0, 5).map((e) => e.key).join(', ')}${manifest.entries.length > 5 ? ', ...' : ''})`);
    }
    return entry;
  }

  /** Rows of a committed JSONL entry, verified (size up front, sha256 after the last row). */
  async *readCommittedJsonl<T = unknown>(prefix: string, name: string): AsyncGenerator<T> {
    const entry = await this.committedEntry(prefix, name);
    yield* this.readJsonl<T>(joinKey(prefix, name), { expect: entry });
  }

  /** All rows of a committed JSONL entry, verified BEFORE any row is returned. */
  async readCommittedJsonlAll<T = unknown>(prefix: string, name: string): Promise<T[]> {
    const rows: T[] = [];
    for await (const row of this.readCommittedJsonl<T>(prefix, name)) rows.push(row);
    return rows;
  }

  /** Bytes of a committed entry, verified. */
  async getCommittedBytes(prefix: string, name: string): Promise<Buffer> {
    const entry = await this.committedEntry(prefix, name);
    return this.getBytes(joinKey(prefix, name), { expect: entry });
  }

  /** Parsed JSON of a committed entry, verified. */
  async getCommittedJson<T = unknown>(prefix: string, name: string): Promise<T> {
    const entry = await this.committedEntry(prefix, name);
    return this.getJson<T>(joinKey(prefix, name), { expect: entry });
  }

  /** Downloads a committed entry to a local file, verified (the file appears only if it matches). */
  async getCommittedFile(prefix: string, name: string, path: string): Promise<StoredObject> {
    const entry = await this.committedEntry(prefix, name);
    return this.getFile(joinKey(prefix, name), path, { expect: entry });
  }

  /** Uploads every file under `localDir` (recursive) to `prefix/<relative path>`, then commits them. */
  async uploadDir(prefix: string, localDir: string, meta: Record<string, unknown> = {}): Promise<Manifest> {
    const p = normalizePrefix(prefix);
    const files = await listFiles(localDir);
    const stored = await mapLimit(files, 4, (rel) => this.putFile(joinKey(p, rel), join(localDir, rel)));
    return this.commit(p, stored, meta);
  }

  /** Downloads every entry of a committed prefix into `localDir`, verified. Returns the manifest. */
  async downloadDir(prefix: string, localDir: string): Promise<Manifest> {
    const manifest = await this.requireManifest(prefix);
    await mapLimit(manifest.entries, 4, (e) => this.getFile(joinKey(manifest.prefix, e.key), join(localDir, ...e.key.split('/')), { expect: e }));
    return manifest;
  }

  // ---------------------------------------------------------------- internals

  private async endpoint(): Promise<string> {
    if (this.endpointLabel) return this.endpointLabel;
    try {
      const ep = await this.s3.config.endpoint?.();
      this.endpointLabel = ep ? `${ep.protocol}//${ep.hostname}${ep.port ? `:${ep.port}` : ''}` : 'AWS S3';
    } catch {
      this.endpointLabel = 'AWS S3';
    }
    return this.endpointLabel;
  }

  /** `call` with up to 3 attempts (for requests whose body is a fresh stream per attempt). */
  private async withRetries<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.call(key, fn);
      } catch (err) {
        if (attempt >= 3 || err instanceof StoreAccessError || err instanceof MissingBucketError) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  private async call<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(err, { endpoint: await this.endpoint(), bucket: this.bucket, ...(key !== undefined ? { key } : {}) });
    }
  }
}

// Hashes a file on a worker thread, so on a multi-core machine hashing overlaps the upload on the main thread.
const HASH_FILE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
const hash = createHash('sha256');
let size = 0;
createReadStream(workerData, { highWaterMark: 1 << 20 })
  .on('data', (chunk) => { hash.update(chunk); size += chunk.length; })
  .on('end', () => parentPort.postMessage({ size, sha256: hash.digest('hex') }))
  .on('error', (err) => parentPort.postMessage({ error: err.message }));
`;

/** Size and sha256 of a local file, read sequentially on a worker thread. */
function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASH_FILE_WORKER, { eval: true, workerData: path });
    worker.once('message', (msg: { size: number; sha256: string } | { error: string }) => {
      if ('error' in msg) reject(new StoreError(`cannot read ${path}: ${msg.error}`));
      else resolve(msg);
      void worker.terminate();
    });
    worker.once('error', (err) => reject(new StoreError(`hashing ${path} failed: ${err.message}`)));
  });
}

/** Files under `dir`, recursive, as '/'-separated relative paths, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => {
    throw new StoreUsageError(`cannot upload directory ${dir}: not found`);
  });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** Maps with at most `limit` promises in flight; results keep input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return out;
}
