// vitest globalSetup: ONE Temporal dev server (headless, own SQLite) and ONE versitygw for the whole run,
// on free ports and a temporary data dir, so tests never collide with `npm run dev` (7233/7070).
// Tests reach them through test/helpers/services.ts (inject('rlhfServices')).
// RLHF_TEST_SERVICES=0 skips them (engine-only runs); tests that need them then fail with a clear message.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stackDown, stackEnv, stackOptions, stackUp } from '../scripts/stack';
import { ensureTools } from '../scripts/tools';
import { freePort } from './helpers/ports';
import type { TestServices } from './helpers/services';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.RLHF_TEST_SERVICES === '0') {
    project.provide('rlhfServices', null);
    return undefined;
  }
  await ensureTools();
  const dataDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-test-'));
  const options = stackOptions(
    {
      dataDir,
      temporalPort: await freePort(),
      uiPort: null,
      s3Port: await freePort(),
      bucket: 'durable-rlhf-test',
      credentials: { accessKeyId: 'rlhf-test', secretAccessKey: 'rlhf-test-secret' },
      // A killed test run must not leave servers behind.
      ownerPid: process.pid,
    },
    process.env,
  );
  const teardown = async (): Promise<void> => {
    await stackDown(options);
    if (process.env.RLHF_KEEP_TEST_DATA !== '1') await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const info = await stackUp(options);
    const services: TestServices = {
      temporalAddress: info.temporalAddress,
      s3Endpoint: info.s3Endpoint,
      bucket: info.bucket,
      credentials: info.credentials,
      dataDir,
      env: stackEnv(info),
    };
    project.provide('rlhfServices', services);
    // Also for code that reads process.env directly (child processes spawned by tests inherit it).
    Object.assign(process.env, services.env);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
