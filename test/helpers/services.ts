// Test access to the services started by test/global-setup.ts (one Temporal dev server + one versitygw per
// vitest run), plus a private Temporal server for tests that stop and restart it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import { connectClient, connectWorker } from '../../shared/client';
import { loadConfig, type RlhfConfig, type S3Credentials } from '../../shared/config';
import { ArtifactStore } from '../../shared/store';
import { stackOptions, startTemporal, stopTemporal, type StackOptions } from '../../scripts/stack';
import { freePort } from './ports';

export interface TestServices {
  temporalAddress: string;
  s3Endpoint: string;
  bucket: string;
  credentials: S3Credentials;
  dataDir: string;
  /** TEMPORAL_ADDRESS, S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for these services. */
  env: Record<string, string>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    rlhfServices: TestServices | null;
  }
}

/** The shared test services; throws a clear error when the run has them disabled. */
export function testServices(): TestServices {
  const services = inject('rlhfServices');
  if (!services) throw new Error('this test needs Temporal and S3, but RLHF_TEST_SERVICES=0 disabled them');
  return services;
}

/** Environment pointing at the test services, with `overrides` on top. */
export function getTestEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return { ...testServices().env, ...overrides };
}

/** The validated config for the test services (plus overrides, e.g. task queue names). */
export function getTestConfig(overrides: Record<string, string> = {}): RlhfConfig {
  return loadConfig(getTestEnv(overrides));
}

/** An artifact store on the test bucket. */
export function getTestStore(): ArtifactStore {
  return ArtifactStore.fromConfig(getTestConfig());
}

/** A Temporal client on the test server. Close with `client.connection.close()`. */
export function getTestClient(config: RlhfConfig = getTestConfig()): Promise<Client> {
  return connectClient(config);
}

/** A native connection for test workers. Close it when done. */
export function getTestWorkerConnection(config: RlhfConfig = getTestConfig()): Promise<NativeConnection> {
  return connectWorker(config);
}

/** A fresh key prefix for one test: `test/<label>-<random>`. */
export function uniquePrefix(label: string): string {
  return `test/${label}-${randomBytes(4).toString('hex')}`;
}

/** A unique id (task queues, workflow ids). */
export function uniqueId(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

export interface PrivateTemporal {
  address: string;
  options: StackOptions;
  /** Stops the server (its SQLite file stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port and SQLite file. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  dispose(): Promise<void>;
}

/** A Temporal dev server of the test's own (own port, own SQLite file), for tests that restart it. */
export async function startPrivateTemporal(): Promise<PrivateTemporal> {
  const dataDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-temporal-'));
  const options = stackOptions({ dataDir, temporalPort: await freePort(), uiPort: null, services: ['temporal'], ownerPid: process.pid }, process.env);
  await startTemporal(options);
  return {
    address: `${options.host}:${options.temporalPort}`,
    options,
    stop: async () => {
      await stopTemporal(options);
    },
    start: async () => {
      await startTemporal(options);
    },
    dispose: async () => {
      await stopTemporal(options);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let runtimeInstalled = false;

/** Installs the Temporal Runtime with a WARN-level logger (once per process) so worker logs don't flood test output. */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by this process (another helper got there first): keep it.
  }
}
