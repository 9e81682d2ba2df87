// Bad environments fail with one clear line (CLI) or a typed error (library): wrong S3 credentials,
// unreachable endpoint, missing bucket, a taken port, missing `go`, invalid configuration.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, TemporalUnreachableError } from '../../shared/client';
import { ConfigError, DEV_S3_CREDENTIALS, loadConfig } from '../../shared/config';
import { ArtifactStore, MissingBucketError, StoreAccessError, StoreUnreachableError } from '../../shared/store';
import { REPO_ROOT, stackOptions, stackUp, StackError } from '../../scripts/stack';
import { freePort } from '../helpers/ports';
import { getTestConfig, getTestEnv } from '../helpers/services';

const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `durable-rlhf-${label}-`));
  temps.push(dir);
  return dir;
}

/** Runs a project script with tsx the way npm scripts do; returns exit code and output. */
function runScript(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const out = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !/NodeVersionSupportWarning|ExperimentalWarning|--trace-warnings/.test(l));
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('S3 errors are typed and name the endpoint/bucket', () => {
  it('wrong credentials', async () => {
    const store = ArtifactStore.fromConfig(getTestConfig({ AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong' }));
    const err = await store.checkBucket().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreAccessError);
    expect((err as Error).message).toMatch(/^S3 endpoint http:\/\/127\.0\.0\.1:\d+ rejected the credentials for bucket 'durable-rlhf-test' \(\w+\); check AWS_ACCESS_KEY_ID/);
    await expect(store.putBytes('x/y', 'z')).rejects.toThrow(StoreAccessError);
    store.s3.destroy();
  });

  it('wrong secret for a known key', async () => {
    const store = ArtifactStore.fromConfig(getTestConfig({ AWS_SECRET_ACCESS_KEY: 'not-the-secret' }));
    await expect(store.checkBucket()).rejects.toThrow(StoreAccessError);
    store.s3.destroy();
  });

  it('unreachable endpoint', async () => {
    const port = await freePort();
    const store = ArtifactStore.fromConfig(getTestConfig({ S3_ENDPOINT: `http://127.0.0.1:${port}` }));
    const err = await store.getBytes('a/b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnreachableError);
    expect((err as Error).message).toBe(
      `S3 endpoint http://127.0.0.1:${port} unreachable (ECONNREFUSED); start it with \`npm run stack -- up\` or set S3_ENDPOINT`,
    );
    store.s3.destroy();
  });

  it('missing bucket', async () => {
    const store = ArtifactStore.fromConfig(getTestConfig({ S3_BUCKET: 'no-such-bucket' }));
    await expect(store.checkBucket()).rejects.toThrow(MissingBucketError);
    await expect(store.putBytes('k', 'v')).rejects.toThrow(/^S3 bucket 'no-such-bucket' does not exist at http:\/\/127\.0\.0\.1:\d+; create it/);
    store.s3.destroy();
  });
});

describe('stack and tools', () => {
  it('stack up on a taken port fails with one line naming the port and variable', async () => {
    const port = await freePort();
    const blocker = await listen(port);
    try {
      const dataDir = await tempDir('stack');
      const options = stackOptions({ dataDir, s3Port: port, services: ['s3'] }, process.env);
      await expect(stackUp(options)).rejects.toThrow(StackError);
      await expect(stackUp(options)).rejects.toThrow(
        `port 127.0.0.1:${port} (S3) is already in use by another process; stop it or set RLHF_S3_PORT to a free port`,
      );
      const stackEnv = {
        ...(process.env as Record<string, string>),
        RLHF_DATA_DIR: dataDir,
        RLHF_TEMPORAL_PORT: String(port),
        RLHF_TEMPORAL_UI_PORT: String(await freePort()),
        RLHF_S3_PORT: String(await freePort()),
      };
      const cli = runScript(['scripts/stack.ts', 'up'], stackEnv);
      expect(cli.status).toBe(1);
      expect(errorLines(cli.stderr)).toEqual([
        `error: port 127.0.0.1:${port} (Temporal gRPC) is already in use by another process; stop it or set RLHF_TEMPORAL_PORT to a free port`,
      ]);
      // The S3 server that did start is stopped again: a failed `up` leaves nothing running.
      const status = runScript(['scripts/stack.ts', 'status'], stackEnv);
      expect(status.stdout).toMatch(/^s3\s+stopped /m);
      expect(status.stdout).toMatch(/^temporal\s+stopped \(port in use by another process\)/m);
    } finally {
      blocker.close();
    }
  });

  it('tools ensure without go and without cached binaries says how to get them', async () => {
    const emptyPath = await tempDir('path');
    const emptyCache = await tempDir('cache');
    const cli = runScript(['scripts/tools.ts', 'ensure'], { PATH: emptyPath, HOME: emptyCache, DURABLE_RLHF_CACHE: emptyCache });
    expect(cli.status).toBe(1);
    const lines = errorLines(cli.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: temporal 1\.5\.1 is not on PATH or in .*\/bin\/temporal-1\.5\.1 and `go` is not installed: install Go/);
    expect(lines[0]).toContain('go install github.com/temporalio/cli/cmd/temporal@v1.5.1');
  });

  it('worker with an invalid --queues value fails with one line', () => {
    const cli = runScript(['workers/main.ts', '--queues', 'control,gpu'], { ...(process.env as Record<string, string>), ...getTestEnv() });
    expect(cli.status).toBe(1);
    expect(errorLines(cli.stderr)).toEqual([`error: invalid --queues='control,gpu': expected a comma-separated subset of control,inference,train`]);
  });
});

describe('configuration', () => {
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ S3_ENDPOINT: 'ftp://x' }, 'S3_ENDPOINT', /^invalid S3_ENDPOINT='ftp:\/\/x': expected an http\(s\) URL/],
    [{ S3_BUCKET: 'Bad_Bucket' }, 'S3_BUCKET', /^invalid S3_BUCKET='Bad_Bucket': expected an S3 bucket name/],
    [{ S3_FORCE_PATH_STYLE: 'maybe' }, 'S3_FORCE_PATH_STYLE', /expected one of 1, 0, true, false, yes, no/],
    [{ RLHF_TRAIN_CONCURRENCY: '0' }, 'RLHF_TRAIN_CONCURRENCY', /^invalid RLHF_TRAIN_CONCURRENCY='0': expected an integer from 1 to 1000$/],
    [{ RLHF_SHUTDOWN_GRACE: 'soon' }, 'RLHF_SHUTDOWN_GRACE', /expected a duration such as 60s/],
    [{ RLHF_WORKER_QUEUES: 'train,cpu' }, 'RLHF_WORKER_QUEUES', /expected a comma-separated subset of control,inference,train/],
    [{ RLHF_CONTROL_QUEUE: 'has space' }, 'RLHF_CONTROL_QUEUE', /expected a task queue name/],
    [{ TEMPORAL_ADDRESS: 'no-port' }, 'TEMPORAL_ADDRESS', /^invalid TEMPORAL_ADDRESS='no-port': expected host:port/],
    [{ AWS_ACCESS_KEY_ID: 'only-the-id' }, 'AWS_SECRET_ACCESS_KEY', /set both or neither/],
  ];
  it.each(cases)('%j → ConfigError naming %s', (env, variable, message) => {
    const err = (() => {
      try {
        loadConfig({ HOME: '/nonexistent', ...env });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message).toMatch(message);
  });

  it('defaults point at the local dev stack with its dev keys', () => {
    const config = loadConfig({ HOME: '/nonexistent' });
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.temporal.namespace).toBe('default');
    expect(config.s3).toMatchObject({ endpoint: 'http://127.0.0.1:7070', bucket: 'durable-rlhf', region: 'us-east-1', forcePathStyle: true });
    expect(config.s3.credentials).toEqual(DEV_S3_CREDENTIALS);
    expect(config.queues).toEqual({ control: 'rlhf-control', inference: 'rlhf-inference', train: 'rlhf-train' });
    expect(config.worker.roles).toEqual(['control', 'inference', 'train']);
  });

  it('a remote endpoint without keys uses the AWS default credential chain', () => {
    const config = loadConfig({ HOME: '/nonexistent', S3_ENDPOINT: 'https://s3.example.com', S3_FORCE_PATH_STYLE: 'false' });
    expect(config.s3.credentials).toBeUndefined();
    expect(config.s3.forcePathStyle).toBe(false);
  });

  it('an unreachable Temporal server is one line', async () => {
    const port = await freePort();
    const err = await connectClient(loadConfig({ HOME: '/nonexistent', TEMPORAL_ADDRESS: `127.0.0.1:${port}` }), { connectTimeout: '2s' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalUnreachableError);
    expect((err as Error).message).toMatch(new RegExp(`^Temporal server at 127\\.0\\.0\\.1:${port} unreachable \\(.+\\); start it with`));
    expect((err as Error).message).not.toContain('\n');
  });
});
