// S3 server-side encryption: S3_SSE=AES256|aws:kms (+ S3_SSE_KMS_KEY_ID) from the environment reaches every
// object write of the artifact store — single PutObject, streamed uploads (lib-storage) and multipart — as
// x-amz-server-side-encryption headers (recorded by a loopback proxy in front of the test versitygw).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../../chaos/fault-proxy';
import { ConfigError, loadConfig } from '../../shared/config';
import { ArtifactStore } from '../../shared/store';
import { getTestEnv, uniquePrefix } from '../helpers/services';

let proxy: FaultProxy;
let dir: string;
const seen: Array<{ method: string; url: string; sse?: string; kms?: string }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rlhf-sse-'));
  proxy = await startFaultProxy({
    upstream: getTestEnv().S3_ENDPOINT as string,
    onRequest: (req: IncomingMessage) =>
      seen.push({ method: req.method ?? '', url: req.url ?? '', sse: req.headers['x-amz-server-side-encryption'] as string | undefined, kms: req.headers['x-amz-server-side-encryption-aws-kms-key-id'] as string | undefined }),
  });
});
afterAll(async () => {
  await proxy?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('S3 server-side encryption option', () => {
  it('reads S3_SSE and S3_SSE_KMS_KEY_ID, rejecting bad combinations', () => {
    expect(loadConfig({}).s3.sse).toBeUndefined();
    expect(loadConfig({ S3_SSE: 'AES256' }).s3.sse).toEqual({ algorithm: 'AES256' });
    expect(loadConfig({ S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd' }).s3.sse).toEqual({ algorithm: 'aws:kms', kmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd' });
    expect(() => loadConfig({ S3_SSE: 'aes256' })).toThrow(/S3_SSE='aes256': expected AES256 or aws:kms/);
    expect(() => loadConfig({ S3_SSE_KMS_KEY_ID: 'k' })).toThrow(ConfigError);
    expect(() => loadConfig({ S3_SSE: 'AES256', S3_SSE_KMS_KEY_ID: 'k' })).toThrow(/S3_SSE_KMS_KEY_ID/);
  });

  it('every write carries the SSE header: PutObject, streamed upload, file PUT and multipart', async () => {
    const config = loadConfig(getTestEnv({ S3_ENDPOINT: proxy.url, S3_SSE: 'AES256', S3_PART_SIZE_MB: '5', S3_MULTIPART_THRESHOLD_MB: '5' }));
    const store = ArtifactStore.fromConfig(config);
    const prefix = uniquePrefix('sse');
    const small = join(dir, 'small.bin');
    const big = join(dir, 'big.bin');
    await writeFile(small, Buffer.alloc(1000, 1));
    await writeFile(big, Buffer.alloc(11 * 1024 * 1024, 2));
    seen.length = 0;
    const a = await store.putBytes(`${prefix}/a.txt`, 'hello');
    const b = await store.writeJsonl(`${prefix}/b.jsonl`, [{ x: 1 }, { x: 2 }]);
    const c = await store.putFile(`${prefix}/c.bin`, small);
    const d = await store.putFile(`${prefix}/d.bin`, big);
    await store.commit(prefix, [a, b, c, d]);
    expect((await store.getCommittedBytes(prefix, 'd.bin')).byteLength).toBe(11 * 1024 * 1024);
    const writes = seen.filter((r) => (r.method === 'PUT' && !/partNumber=/.test(r.url)) || (r.method === 'POST' && /uploads/.test(r.url) && !/uploadId=/.test(r.url)));
    // a, b, c, the manifest: PUTs; d: CreateMultipartUpload (POST ?uploads).
    expect(writes.length).toBeGreaterThanOrEqual(5);
    expect(writes.some((r) => r.method === 'POST')).toBe(true);
    for (const w of writes) expect(w.sse, `${w.method} ${w.url}`).toBe('AES256');
    store.s3.destroy();
  });

  it('aws:kms sends the key id', async () => {
    const config = loadConfig(getTestEnv({ S3_ENDPOINT: proxy.url, S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'alias/rlhf-test' }));
    const store = ArtifactStore.fromConfig(config);
    seen.length = 0;
    // versitygw may refuse KMS (no KMS here): the request must carry the headers either way.
    await store.putBytes(`${uniquePrefix('sse-kms')}/a.txt`, 'x').catch(() => undefined);
    expect(seen[0]).toMatchObject({ method: 'PUT', sse: 'aws:kms', kms: 'alias/rlhf-test' });
    store.s3.destroy();
  });
});
