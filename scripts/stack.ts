// The local stack: a Temporal dev server (SQLite file, Web UI) and versitygw (S3 over a posix directory),
// both detached, with pid files and logs under the data directory (git-ignored `.data/` by default).
//
//   npm run stack -- up | down | status
//
// Environment: RLHF_DATA_DIR, RLHF_STACK_HOST, RLHF_TEMPORAL_PORT, RLHF_TEMPORAL_UI_PORT, RLHF_S3_PORT,
// RLHF_STACK_TIMEOUT (seconds), RLHF_UI_CODEC_ENDPOINT (codec server for encrypted payloads), S3_BUCKET, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the gateway's root keys;
// dev keys when unset). The exported functions take the same options so tests run a second stack elsewhere.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ArtifactStore, StoreUnreachableError, createS3Client } from '../shared/store';
import { DEFAULTS, DEV_S3_CREDENTIALS, type S3Credentials } from '../shared/config';
import { searchAttributeFlags } from '../shared/search-attributes';
import { requireTool } from './tools';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type ServiceName = 'temporal' | 's3';

export interface StackOptions {
  /** Holds temporal/temporal.sqlite, s3/<bucket>/, logs/, *.pid. */
  dataDir: string;
  host: string;
  temporalPort: number;
  /** Web UI port; null runs the server headless. */
  uiPort: number | null;
  s3Port: number;
  bucket: string;
  credentials: S3Credentials;
  readyTimeoutMs: number;
  services: ServiceName[];
  /** When set, a watchdog stops the servers once this process is gone (test runs that get killed). */
  ownerPid?: number;
  /** Environment used to find the binaries. */
  env: Record<string, string | undefined>;
}

export interface StackInfo {
  temporalAddress: string;
  uiUrl: string | undefined;
  s3Endpoint: string;
  bucket: string;
  credentials: S3Credentials;
  dataDir: string;
  /** Services that were already running and were reused. */
  reused: ServiceName[];
}

export interface ServiceStatus {
  name: ServiceName;
  state: 'running' | 'stopped' | 'port-taken';
  address: string;
  pid?: number;
  log: string;
}

/** The stack cannot start or stop. The message is one line saying why and what to do. */
export class StackError extends Error {
  override name = 'StackError';
}

function intFromEnv(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new StackError(`invalid ${name}='${raw}': expected a port number from 1 to 65535`);
  return n;
}

/** Stack options from the environment, with explicit overrides on top. */
export function stackOptions(overrides: Partial<StackOptions> = {}, env: Record<string, string | undefined> = process.env): StackOptions {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  const timeout = intFromEnv(env, 'RLHF_STACK_TIMEOUT', 120);
  return {
    dataDir: resolve(REPO_ROOT, env.RLHF_DATA_DIR || '.data'),
    host: env.RLHF_STACK_HOST || '127.0.0.1',
    temporalPort: intFromEnv(env, 'RLHF_TEMPORAL_PORT', 7233),
    uiPort: env.RLHF_TEMPORAL_UI_PORT === 'none' ? null : intFromEnv(env, 'RLHF_TEMPORAL_UI_PORT', 8233),
    s3Port: intFromEnv(env, 'RLHF_S3_PORT', 7070),
    bucket: env.S3_BUCKET || DEFAULTS.s3Bucket,
    credentials: id && secret ? { accessKeyId: id, secretAccessKey: secret } : { ...DEV_S3_CREDENTIALS },
    readyTimeoutMs: timeout * 1000,
    services: ['temporal', 's3'],
    env,
    ...overrides,
  };
}

/** Environment variables that point a client, worker or CLI at this stack. */
export function stackEnv(info: StackInfo): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: info.temporalAddress,
    S3_ENDPOINT: info.s3Endpoint,
    S3_BUCKET: info.bucket,
    AWS_ACCESS_KEY_ID: info.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: info.credentials.secretAccessKey,
  };
}

const paths = (o: StackOptions, name: ServiceName) => ({
  pid: join(o.dataDir, `${name}.pid`),
  log: join(o.dataDir, 'logs', `${name}.log`),
});

const address = (o: StackOptions, name: ServiceName): string =>
  name === 'temporal' ? `${o.host}:${o.temporalPort}` : `http://${o.host}:${o.s3Port}`;

/** Alive and not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The pid recorded for a service if that process is alive and is that service's binary. */
async function runningPid(o: StackOptions, name: ServiceName): Promise<number | undefined> {
  const file = paths(o, name).pid;
  if (!existsSync(file)) return undefined;
  const pid = Number((await readFile(file, 'utf8')).trim());
  const binary = name === 'temporal' ? 'temporal' : 'versitygw';
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (cmdline(pid) === '' || cmdline(pid).includes(binary))) return pid;
  await rm(file, { force: true });
  return undefined;
}

/** Resolves true when nothing listens on host:port. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolvePort(true)));
  });
}

function lastLogLine(log: string): string {
  try {
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    return (lines[lines.length - 1] ?? '').slice(0, 300);
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(
  o: StackOptions,
  name: ServiceName,
  pid: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + o.readyTimeoutMs;
  const log = paths(o, name).log;
  while (Date.now() < deadline) {
    if (await ready()) return;
    if (!isAlive(pid)) {
      await rm(paths(o, name).pid, { force: true });
      throw new StackError(`${label(name)} exited during start (log ${log}): ${lastLogLine(log)}`);
    }
    await sleep(300);
  }
  throw new StackError(`${label(name)} on ${address(o, name)} not ready after ${o.readyTimeoutMs / 1000}s (log ${log}): ${lastLogLine(log)}`);
}

const label = (name: ServiceName) => (name === 'temporal' ? 'Temporal dev server' : 'versitygw (S3)');

async function temporalHealthy(o: StackOptions): Promise<boolean> {
  const temporal = requireTool('temporal', o.env);
  // Only this address: no profile from a config file or TEMPORAL_* variables (TLS, API key) of the user.
  const args = ['operator', 'cluster', 'health', '--address', address(o, 'temporal'), '--command-timeout', '3s', '--disable-config-file', '--disable-config-env'];
  const out = spawnSync(temporal, args, { encoding: 'utf8', timeout: 10_000 });
  return out.status === 0 && /SERVING/.test(out.stdout);
}

function s3Store(o: StackOptions): ArtifactStore {
  const s3 = { endpoint: address(o, 's3'), region: DEFAULTS.s3Region, forcePathStyle: true, credentials: o.credentials, bucket: o.bucket, partSize: 16 << 20, queueSize: 4, multipartThreshold: 1 << 30 };
  return new ArtifactStore({ s3: createS3Client(s3), bucket: o.bucket, endpoint: s3.endpoint });
}

async function s3Ready(o: StackOptions): Promise<boolean> {
  const store = s3Store(o);
  try {
    await store.ensureBucket();
    return true;
  } catch (err) {
    if (err instanceof StoreUnreachableError) return false;
    throw new StackError(`versitygw on ${address(o, 's3')} answered but ${(err as Error).message}`);
  } finally {
    store.s3.destroy();
  }
}

async function assertPortFree(o: StackOptions, port: number, what: string, variable: string): Promise<void> {
  if (!(await isPortFree(o.host, port))) {
    throw new StackError(`port ${o.host}:${port} (${what}) is already in use by another process; stop it or set ${variable} to a free port`);
  }
}

async function spawnDetached(o: StackOptions, name: ServiceName, binary: string, args: string[], env: Record<string, string>): Promise<number> {
  const p = paths(o, name);
  await mkdir(dirname(p.log), { recursive: true });
  const fd = openSync(p.log, 'a');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env }, cwd: o.dataDir });
    const pid = child.pid;
    if (pid === undefined) throw new StackError(`could not start ${label(name)} (${binary})`);
    child.unref();
    await writeFile(p.pid, `${pid}\n`);
    if (o.ownerPid !== undefined) startWatchdog(o.ownerPid, pid);
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** A detached shell that sends SIGTERM to `pid` once `owner` has exited (and exits itself when `pid` does). */
function startWatchdog(owner: number, pid: number): void {
  const script = `while kill -0 ${owner} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 2; done; kill ${pid} 2>/dev/null; exit 0`;
  spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref();
}

/**
 * The dev server's SQLite file in write-ahead-log mode, synced at checkpoints (`synchronous=NORMAL`) instead of
 * at every commit. SQLite's default (rollback journal, `synchronous=FULL`) pays several fsyncs per
 * transaction, and every workflow step is a few transactions: the orchestration bench measured the time between
 * activities fall by a third (tiny pipeline: 1.16–1.37 s → 0.65–0.92 s of a 7–10 s run). A killed server
 * process loses nothing committed (the WAL is in the OS's page cache and replayed on open; the persistence test
 * kills and restarts the server); only a power loss or kernel crash can lose the last transactions, which is
 * the dev server's bargain anyway. WAL mode is recorded in the file, so an older database switches on open.
 */
export const SQLITE_PRAGMA_FLAGS: readonly string[] = ['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'];

/** Dev-server flags for task queues of one partition (see singlePartitionQueues). */
export const SINGLE_PARTITION_FLAGS: readonly string[] = [
  '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
  '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
];

/**
 * Dev-server flags that lift the history service's queue readers off their default poll-rate limit (20 reads a
 * second). Every workflow task and activity task reaches matching through the transfer queue; once a run takes
 * more than about 20 steps a second (the bucket's burst), each further task waits for the next read: a trivial
 * workflow of 40 no-op activities went from 15 ms a step to 80–100 ms a step after its first 25 steps, with
 * 40–45 ms of every step spent waiting there (17–22 ms a step with these flags). The visibility queue (search
 * attributes, list filters) gets the same. Dynamic config is not stored in the database: any database takes them.
 */
export const QUEUE_READER_FLAGS: readonly string[] = [
  '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000',
  '--dynamic-config-value', 'history.visibilityProcessorMaxPollRPS=1000',
];

/**
 * Whether the dev server runs every task queue with one partition. Partitions spread a queue over matching
 * hosts; the dev server is one process, and with the default 4 a task that waits in one partition's backlog
 * while the worker polls another is handed over only after a forwarding delay (the orchestration bench saw
 * activities wait 2, 4 and 6 s this way with an idle worker). One partition lets every poll match every task.
 * This is a dev-server setting only (a production cluster keeps its own partitions). A database created
 * before this setting keeps 4: with one read partition, tasks left in the backlog of partitions 1–3 would
 * never be dispatched. So the choice is recorded next to the database when the database is created.
 */
async function singlePartitionQueues(db: string): Promise<boolean> {
  const marker = `${db}.single-partition`;
  if (!existsSync(db)) {
    await writeFile(marker, 'created with matching.numTaskqueueReadPartitions=1 and numTaskqueueWritePartitions=1 (scripts/stack.ts)\n');
    return true;
  }
  return existsSync(marker);
}

/** Starts the Temporal dev server (or reuses the running one). Returns true when it was reused. */
export async function startTemporal(o: StackOptions): Promise<boolean> {
  const existing = await runningPid(o, 'temporal');
  if (existing !== undefined) {
    await waitUntil(o, 'temporal', existing, () => temporalHealthy(o));
    return true;
  }
  const temporal = requireTool('temporal', o.env);
  await assertPortFree(o, o.temporalPort, 'Temporal gRPC', 'RLHF_TEMPORAL_PORT');
  if (o.uiPort !== null) await assertPortFree(o, o.uiPort, 'Temporal Web UI', 'RLHF_TEMPORAL_UI_PORT');
  await mkdir(join(o.dataDir, 'temporal'), { recursive: true });
  const db = join(o.dataDir, 'temporal', 'temporal.sqlite');
  const onePartition = await singlePartitionQueues(db);
  const args = [
    'server', 'start-dev',
    '--ip', o.host,
    '--port', String(o.temporalPort),
    ...(o.uiPort === null ? ['--headless'] : ['--ui-port', String(o.uiPort)]),
    // Payload encryption (shared/codec): the UI decodes through scripts/codec-server.ts at this URL.
    ...(o.uiPort !== null && o.env.RLHF_UI_CODEC_ENDPOINT ? ['--ui-codec-endpoint', o.env.RLHF_UI_CODEC_ENDPOINT] : []),
    '--db-filename', db,
    ...SQLITE_PRAGMA_FLAGS,
    // A loaded 2-core box can stall a workflow task past the 10 s default; a timeout there only adds retries.
    '--dynamic-config-value', 'history.defaultWorkflowTaskTimeout="60s"',
    ...(onePartition ? SINGLE_PARTITION_FLAGS : []),
    ...QUEUE_READER_FLAGS,
    ...searchAttributeFlags(),
    '--log-level', 'warn',
  ];
  const pid = await spawnDetached(o, 'temporal', temporal, args, {});
  await waitUntil(o, 'temporal', pid, () => temporalHealthy(o));
  return false;
}

/** Starts versitygw over <dataDir>/s3 (or reuses the running one) and creates the bucket. */
export async function startS3(o: StackOptions): Promise<boolean> {
  const existing = await runningPid(o, 's3');
  if (existing !== undefined) {
    await waitUntil(o, 's3', existing, () => s3Ready(o));
    return true;
  }
  const versitygw = requireTool('versitygw', o.env);
  await assertPortFree(o, o.s3Port, 'S3', 'RLHF_S3_PORT');
  await mkdir(join(o.dataDir, 's3'), { recursive: true });
  const args = ['--port', `${o.host}:${o.s3Port}`, '--quiet', 'posix', join(o.dataDir, 's3')];
  const pid = await spawnDetached(o, 's3', versitygw, args, {
    ROOT_ACCESS_KEY: o.credentials.accessKeyId,
    ROOT_SECRET_KEY: o.credentials.secretAccessKey,
  });
  await waitUntil(o, 's3', pid, () => s3Ready(o));
  return false;
}

async function stopService(o: StackOptions, name: ServiceName): Promise<boolean> {
  const pid = await runningPid(o, name);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  await rm(paths(o, name).pid, { force: true });
  return true;
}

export const stopTemporal = (o: StackOptions): Promise<boolean> => stopService(o, 'temporal');
export const stopS3 = (o: StackOptions): Promise<boolean> => stopService(o, 's3');

/** Starts (or reuses) the selected services and waits until they answer. When one fails, the services
 * this call started are stopped again (nothing half-started is left behind). */
export async function stackUp(o: StackOptions = stackOptions()): Promise<StackInfo> {
  await mkdir(o.dataDir, { recursive: true });
  const reused: ServiceName[] = [];
  // Start both at once: the Temporal server takes seconds to come up.
  const results = await Promise.allSettled(
    o.services.map(async (name) => {
      if (name === 'temporal' ? await startTemporal(o) : await startS3(o)) reused.push(name);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    const started = o.services.filter((name, i) => results[i]?.status === 'fulfilled' && !reused.includes(name));
    for (const name of started) await stopService(o, name);
    throw failed.reason;
  }
  return {
    temporalAddress: address(o, 'temporal'),
    uiUrl: o.uiPort === null || !o.services.includes('temporal') ? undefined : `http://${o.host}:${o.uiPort}`,
    s3Endpoint: address(o, 's3'),
    bucket: o.bucket,
    credentials: o.credentials,
    dataDir: o.dataDir,
    reused,
  };
}

/** Stops the selected services (data stays in the data directory). Returns the services it stopped. */
export async function stackDown(o: StackOptions = stackOptions()): Promise<ServiceName[]> {
  const stopped: ServiceName[] = [];
  for (const name of o.services) if (await stopService(o, name)) stopped.push(name);
  return stopped;
}

export async function stackStatus(o: StackOptions = stackOptions()): Promise<ServiceStatus[]> {
  const out: ServiceStatus[] = [];
  for (const name of o.services) {
    const pid = await runningPid(o, name);
    const port = name === 'temporal' ? o.temporalPort : o.s3Port;
    const state = pid !== undefined ? 'running' : (await isPortFree(o.host, port)) ? 'stopped' : 'port-taken';
    out.push({ name, state, address: address(o, name), log: paths(o, name).log, ...(pid !== undefined ? { pid } : {}) });
  }
  return out;
}

export function describeStack(info: StackInfo): string[] {
  return [
    `Temporal   ${info.temporalAddress}${info.reused.includes('temporal') ? ' (already running)' : ''}`,
    ...(info.uiUrl ? [`Web UI     ${info.uiUrl}`] : []),
    `S3         ${info.s3Endpoint}  bucket ${info.bucket}${info.reused.includes('s3') ? ' (already running)' : ''}`,
    `data       ${info.dataDir}`,
  ];
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'status';
  const o = stackOptions();
  if (command === 'up') {
    for (const line of describeStack(await stackUp(o))) console.log(line);
    console.log('stop with: npm run stack -- down');
  } else if (command === 'down') {
    const stopped = await stackDown(o);
    console.log(stopped.length ? `stopped ${stopped.join(', ')} (data kept in ${o.dataDir})` : 'stack was not running');
  } else if (command === 'status') {
    for (const s of await stackStatus(o)) {
      const state = s.state === 'port-taken' ? 'stopped (port in use by another process)' : s.state;
      console.log(`${s.name.padEnd(9)} ${state.padEnd(8)} ${s.address}${s.pid ? `  pid ${s.pid}` : ''}  log ${s.log}`);
    }
  } else {
    throw new StackError(`unknown command '${command}': usage: npm run stack -- up | down | status`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
