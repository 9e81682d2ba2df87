// The local stack's lifecycle on private ports and data dir: up, idempotent reuse, status, down; a missing
// binary is one line.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stackDown, stackOptions, stackStatus, stackUp, type StackOptions } from '../../scripts/stack';
import { ToolError } from '../../scripts/tools';
import { ArtifactStore } from '../../shared/store';
import { loadConfig } from '../../shared/config';
import { freePort } from '../helpers/ports';

const dirs: string[] = [];
let options: StackOptions | undefined;
afterAll(async () => {
  if (options) await stackDown(options);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('stack lifecycle', () => {
  it('starts versitygw with its bucket, reuses it on a second up, reports status, stops it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-stack-'));
    dirs.push(dataDir);
    options = stackOptions({ dataDir, s3Port: await freePort(), services: ['s3'], ownerPid: process.pid, bucket: 'lifecycle', credentials: { accessKeyId: 'k1', secretAccessKey: 's1' } }, process.env);
    const first = await stackUp(options);
    expect(first.reused).toEqual([]);
    expect(first.s3Endpoint).toBe(`http://127.0.0.1:${options.s3Port}`);

    const store = ArtifactStore.fromConfig(
      loadConfig({ HOME: '/nonexistent', S3_ENDPOINT: first.s3Endpoint, S3_BUCKET: 'lifecycle', AWS_ACCESS_KEY_ID: 'k1', AWS_SECRET_ACCESS_KEY: 's1' }),
    );
    await store.checkBucket();
    store.s3.destroy();

    const second = await stackUp(options);
    expect(second.reused).toEqual(['s3']);
    const [status] = await stackStatus(options);
    expect(status).toMatchObject({ name: 's3', state: 'running', address: first.s3Endpoint });
    expect(status?.pid).toBeGreaterThan(0);

    expect(await stackDown(options)).toEqual(['s3']);
    expect((await stackStatus(options))[0]?.state).toBe('stopped');
    expect(await stackDown(options)).toEqual([]);
  });

  it('a missing binary stops `up` with one line saying how to get it', async () => {
    const emptyCache = await mkdtemp(join(tmpdir(), 'durable-rlhf-nocache-'));
    dirs.push(emptyCache);
    const o = stackOptions(
      { dataDir: join(emptyCache, 'data'), temporalPort: await freePort(), uiPort: null, services: ['temporal'], env: { PATH: emptyCache, DURABLE_RLHF_CACHE: emptyCache } },
      process.env,
    );
    const err = await stackUp(o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toBe(
      `temporal 1.5.1 not found on PATH or in ${emptyCache}/bin/temporal-1.5.1; run \`npx tsx scripts/tools.ts ensure\``,
    );
  });
});
