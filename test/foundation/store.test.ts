// The artifact store on the test run's versitygw: commit protocol, verified reads, JSONL, a 200 MB
// multipart round trip.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChecksumMismatchError,
  MalformedJsonlError,
  ObjectNotFoundError,
  StoreUsageError,
  UncommittedArtifactError,
  ArtifactStore,
  parseS3Uri,
} from '../../shared/store';
import { getTestStore, uniquePrefix } from '../helpers/services';

let store: ArtifactStore;
let tmp: string;

beforeAll(async () => {
  store = getTestStore();
  tmp = await mkdtemp(join(tmpdir(), 'store-test-'));
});
afterAll(async () => {
  store.s3.destroy();
  await rm(tmp, { recursive: true, force: true });
});

/** Deterministic pseudo-random bytes (xorshift32), `total` bytes in 1 MiB chunks. */
async function* deterministicBytes(total: number, seed: number): AsyncGenerator<Buffer> {
  let x = seed >>> 0 || 1;
  const chunkSize = 1 << 20;
  for (let done = 0; done < total; done += chunkSize) {
    const n = Math.min(chunkSize, total - done);
    const chunk = Buffer.allocUnsafe(n);
    for (let i = 0; i + 4 <= n; i += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      chunk.writeUInt32LE(x, i);
    }
    for (let i = n - (n % 4); i < n; i++) chunk[i] = i & 0xff;
    yield chunk;
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('artifact store', () => {
  it('round-trips a 200 MB object by multipart upload, verified against its manifest', async () => {
    const prefix = uniquePrefix('big');
    const total = 200 * 1024 * 1024;
    const expected = createHash('sha256');
    for await (const chunk of deterministicBytes(total, 42)) expected.update(chunk);
    const expectedSha = expected.digest('hex');

    const stored = await store.putStream(`${prefix}/weights.bin`, deterministicBytes(total, 42));
    expect(stored).toEqual({ key: `${prefix}/weights.bin`, size: total, sha256: expectedSha });
    expect(total / store.partSize).toBeGreaterThan(2); // really multipart
    await store.commit(prefix, [stored]);

    const local = join(tmp, 'weights.bin');
    const got = await store.getCommittedFile(prefix, 'weights.bin', local);
    expect(got.sha256).toBe(expectedSha);
    expect((await stat(local)).size).toBe(total);
    expect(await sha256OfFile(local)).toBe(expectedSha);

    // The file path: parts streamed from file ranges (forced multipart with a low threshold).
    const multipart = new ArtifactStore({ s3: store.s3, bucket: store.bucket, partSize: 16 << 20, multipartThreshold: 16 << 20 });
    const fromFile = await multipart.putFile(`${prefix}-file/weights.bin`, local);
    expect(fromFile).toEqual({ key: `${prefix}-file/weights.bin`, size: total, sha256: expectedSha });
    await multipart.commit(`${prefix}-file`, [fromFile]);
    const back = join(tmp, 'weights-back.bin');
    expect((await multipart.getCommittedFile(`${prefix}-file`, 'weights.bin', back)).sha256).toBe(expectedSha);
    expect(await sha256OfFile(back)).toBe(expectedSha);

    await rm(local);
    await rm(back);
    await store.deletePrefix(prefix);
    await store.deletePrefix(`${prefix}-file`);
  }, 300_000);

  it('refuses to read an uncommitted artifact, naming its prefix', async () => {
    const prefix = uniquePrefix('uncommitted');
    await store.writeJsonl(`${prefix}/rows.jsonl`, [{ a: 1 }]);
    expect(await store.isCommitted(prefix)).toBe(false);
    await expect(store.readCommittedJsonlAll(prefix, 'rows.jsonl')).rejects.toThrow(UncommittedArtifactError);
    await expect(store.readCommittedJsonlAll(prefix, 'rows.jsonl')).rejects.toThrow(
      `artifact s3://${store.bucket}/${prefix}/ is not committed: no _manifest.json`,
    );
    await expect(store.getCommittedFile(prefix, 'rows.jsonl', join(tmp, 'x'))).rejects.toThrow(UncommittedArtifactError);
    await expect(store.downloadDir(prefix, join(tmp, 'none'))).rejects.toThrow(UncommittedArtifactError);
  });

  it('detects an object overwritten after commit (same size and different size)', async () => {
    const prefix = uniquePrefix('corrupt');
    const written = await store.writeJsonl(`${prefix}/rows.jsonl`, [{ a: 1 }, { a: 2 }]);
    await store.commit(prefix, [written]);
    expect(await store.readCommittedJsonlAll(prefix, 'rows.jsonl')).toEqual([{ a: 1 }, { a: 2 }]);

    await store.putBytes(`${prefix}/rows.jsonl`, '{"a":1}\n{"a":3}\n'); // same size, other bytes
    const sameSize = store.readCommittedJsonlAll(prefix, 'rows.jsonl');
    await expect(sameSize).rejects.toThrow(ChecksumMismatchError);
    await expect(store.readCommittedJsonlAll(prefix, 'rows.jsonl')).rejects.toThrow(
      new RegExp(`^checksum mismatch for s3://${store.bucket}/${prefix}/rows\\.jsonl: sha256 [0-9a-f]{64}, manifest says ${written.sha256}`),
    );
    const local = join(tmp, 'corrupt.jsonl');
    await expect(store.getCommittedFile(prefix, 'rows.jsonl', local)).rejects.toThrow(ChecksumMismatchError);
    await expect(stat(local)).rejects.toThrow(); // no partial or wrong file left behind

    await store.putBytes(`${prefix}/rows.jsonl`, '{"a":1}\n'); // truncated
    await expect(store.getCommittedBytes(prefix, 'rows.jsonl')).rejects.toThrow(`size 8 B, manifest says ${written.size} B`);
  });

  it('verifies large downloads hashed on the side thread: two at once, and one overwritten after commit', async () => {
    // ≥ 8 MiB: hashed by the follow-hash thread while written; the second concurrent one hashes in-line.
    const prefix = uniquePrefix('large-get');
    const bytes = (seed: number) => Buffer.from(Array.from({ length: 12 << 20 }, (_, i) => (i * seed + (i >> 11)) & 0xff));
    const a = bytes(7);
    const b = bytes(13);
    await store.commit(prefix, [await store.putBytes(`${prefix}/a.bin`, a), await store.putBytes(`${prefix}/b.bin`, b)]);
    const [ga, gb] = await Promise.all([
      store.getCommittedFile(prefix, 'a.bin', join(tmp, 'large-a.bin')),
      store.getCommittedFile(prefix, 'b.bin', join(tmp, 'large-b.bin')),
    ]);
    const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex');
    expect([ga.sha256, gb.sha256]).toEqual([sha(a), sha(b)]);
    expect((await readFile(join(tmp, 'large-a.bin'))).equals(a)).toBe(true);
    expect((await readFile(join(tmp, 'large-b.bin'))).equals(b)).toBe(true);

    const other = Buffer.from(a);
    other[other.length - 1] = (other[other.length - 1] ?? 0) ^ 0xff; // same size, last byte differs
    await store.putBytes(`${prefix}/a.bin`, other);
    const local = join(tmp, 'large-corrupt.bin');
    await expect(store.getCommittedFile(prefix, 'a.bin', local)).rejects.toThrow(ChecksumMismatchError);
    await expect(stat(local)).rejects.toThrow(); // nothing left behind
    // the side thread is free again: the next large read is verified as before
    expect((await store.getCommittedFile(prefix, 'b.bin', join(tmp, 'large-b2.bin'))).sha256).toBe(sha(b));
  });

  it('commits deterministically: same bytes give a byte-identical manifest', async () => {
    const a = uniquePrefix('det');
    const rows = [{ prompt: 'x', response: 'y' }];
    const wa = await store.writeJsonl(`${a}/rows.jsonl`, rows);
    const wb = await store.putJson(`${a}/config.json`, { b: 2, a: 1 });
    await store.commit(a, [wb, wa], { metric: 0.5, name: 'sft' });
    const first = await store.getBytes(`${a}/_manifest.json`);
    await store.commit(a, [wa, wb], { name: 'sft', metric: 0.5 });
    expect((await store.getBytes(`${a}/_manifest.json`)).equals(first)).toBe(true);
    const manifest = await store.requireManifest(a);
    expect(manifest.entries.map((e) => e.key)).toEqual(['config.json', 'rows.jsonl']);
    expect(JSON.stringify(manifest)).not.toMatch(/committedAt|T\d\d:\d\d/);
  });

  it('rejects commit entries that are missing, outside the prefix or of the wrong size', async () => {
    const prefix = uniquePrefix('commit-bad');
    const w = await store.putBytes(`${prefix}/a.bin`, 'abc');
    await expect(store.commit(prefix, [{ key: 'b.bin', size: 3, sha256: w.sha256 }])).rejects.toThrow(/entry .*b\.bin does not exist/);
    await expect(store.commit(prefix, [{ key: '../x', size: 3, sha256: w.sha256 }])).rejects.toThrow(StoreUsageError);
    await expect(store.commit(prefix, [{ ...w, size: 4 }])).rejects.toThrow(ChecksumMismatchError);
    expect(await store.isCommitted(prefix)).toBe(false);
  });

  it('streams JSONL and names the line of a malformed row', async () => {
    const prefix = uniquePrefix('jsonl');
    async function* rows() {
      for (let i = 0; i < 20_000; i++) yield { i, text: `row ${i} ${'x'.repeat(i % 50)}` };
    }
    const written = await store.writeJsonl(`${prefix}/big.jsonl`, rows());
    expect(written.rows).toBe(20_000);
    let n = 0;
    for await (const row of store.readJsonl<{ i: number }>(written.key, { expect: written })) {
      expect(row.i).toBe(n);
      n += 1;
    }
    expect(n).toBe(20_000);

    await store.putBytes(`${prefix}/bad.jsonl`, '{"ok":1}\n\n{"ok":2}\n{"broken": \n');
    const seen: unknown[] = [];
    const read = (async () => {
      for await (const row of store.readJsonl(`${prefix}/bad.jsonl`)) seen.push(row);
    })();
    await expect(read).rejects.toThrow(MalformedJsonlError);
    await expect(
      (async () => {
        for await (const _ of store.readJsonl(`${prefix}/bad.jsonl`));
      })(),
    ).rejects.toThrow(`malformed JSONL in s3://${store.bucket}/${prefix}/bad.jsonl line 4:`);
    expect(seen).toEqual([{ ok: 1 }, { ok: 2 }]);
  });

  it('uploads and downloads a directory as one committed artifact', async () => {
    const prefix = uniquePrefix('dir');
    const src = join(tmp, 'src');
    await mkdir(join(src, 'nested'), { recursive: true });
    await writeFile(join(src, 'config.json'), '{"hidden_size":8}');
    await writeFile(join(src, 'nested', 'model.onnx'), Buffer.alloc(1000, 7));
    const manifest = await store.uploadDir(prefix, src, { step: 3 });
    expect(manifest.entries.map((e) => [e.key, e.size])).toEqual([
      ['config.json', 17],
      ['nested/model.onnx', 1000],
    ]);
    const dst = join(tmp, 'dst');
    await store.downloadDir(prefix, dst);
    expect(await readFile(join(dst, 'nested', 'model.onnx'))).toEqual(Buffer.alloc(1000, 7));
    expect(await store.getCommittedJson(prefix, 'config.json')).toEqual({ hidden_size: 8 });
    expect(await store.deletePrefix(prefix)).toBe(3);
    expect(await store.isCommitted(prefix)).toBe(false);
    expect(await store.list(prefix)).toEqual([]);
  });

  it('reports a missing object and parses S3 URIs', async () => {
    await expect(store.getBytes('test/definitely/missing')).rejects.toThrow(ObjectNotFoundError);
    await expect(store.getBytes('test/definitely/missing')).rejects.toThrow(`S3 object s3://${store.bucket}/test/definitely/missing not found`);
    expect(await store.head('test/definitely/missing')).toBeNull();
    expect(parseS3Uri('s3://bucket/a/b/c.jsonl')).toEqual({ bucket: 'bucket', key: 'a/b/c.jsonl' });
    expect(parseS3Uri('s3://bucket')).toEqual({ bucket: 'bucket', key: '' });
    expect(() => parseS3Uri('http://bucket/a')).toThrow("not an S3 URI: 'http://bucket/a' (expected s3://bucket/key)");
  });
});
