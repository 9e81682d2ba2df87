// One typed, validated configuration for every process (workers, CLI, tests, bench), read from the
// environment. Temporal connection settings come from @temporalio/envconfig (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE).
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { withRedaction } from './secrets';

/** A configuration value is invalid. The message names the variable and what is allowed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

/** Access keys of the local dev stack (versitygw root user); used only for a loopback endpoint without credentials. */
export const DEV_S3_CREDENTIALS = { accessKeyId: 'rlhf-dev', secretAccessKey: 'rlhf-dev-secret' } as const;

export const DEFAULTS = {
  temporalAddress: '127.0.0.1:7233',
  temporalNamespace: 'default',
  s3Endpoint: 'http://127.0.0.1:7070',
  s3Bucket: 'durable-rlhf',
  s3Region: 'us-east-1',
  controlQueue: 'rlhf-control',
  inferenceQueue: 'rlhf-inference',
  trainQueue: 'rlhf-train',
  shutdownGraceTime: '60s',
  maxCachedWorkflows: 100,
  modelCacheKeep: 4,
  concurrency: { control: 8, inference: 1, train: 1 },
  inferencePrefetch: 0,
} as const;

/**
 * Settings for a worker process that is the only one on its queues (npm run demo on its own stack, and the
 * orchestration bench that measures it): it prefetches one inference task. Variables already set win.
 */
export const SOLE_WORKER_ENV: Readonly<Record<string, string>> = { RLHF_INFERENCE_PREFETCH: '1' };

export type QueueRole = 'control' | 'inference' | 'train';
export const QUEUE_ROLES: readonly QueueRole[] = ['control', 'inference', 'train'];

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3Settings {
  /** undefined → AWS default endpoint for the region. */
  endpoint: string | undefined;
  bucket: string;
  region: string;
  forcePathStyle: boolean;
  /** undefined → the AWS SDK default credential chain (env, profile, IMDS, ...). */
  credentials: S3Credentials | undefined;
  /** Multipart part size in bytes (S3 minimum 5 MiB). */
  partSize: number;
  /** Parts uploaded in parallel. */
  queueSize: number;
  /** Files above this many bytes are uploaded by multipart; smaller ones in one streamed PutObject. */
  multipartThreshold: number;
  /** Server-side encryption requested on every PutObject / multipart upload (S3_SSE, S3_SSE_KMS_KEY_ID); undefined: bucket default. */
  sse?: S3ServerSideEncryption;
}

export interface S3ServerSideEncryption {
  algorithm: 'AES256' | 'aws:kms';
  /** KMS key id/ARN for 'aws:kms' (undefined: the account's aws/s3 key). */
  kmsKeyId?: string;
}

export interface TemporalSettings {
  address: string;
  namespace: string;
  apiKey: string | undefined;
  /** Connection options for `Connection.connect` / `NativeConnection.connect` (address, tls, apiKey, metadata). */
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export interface WorkerSettings {
  /** Worker log level (RLHF_LOG_LEVEL). */
  logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Queues this worker process polls (RLHF_WORKER_QUEUES). */
  roles: QueueRole[];
  /** How long in-flight activities may finish after SIGINT/SIGTERM (Temporal duration, e.g. '60s'). */
  shutdownGraceTime: string;
  maxCachedWorkflows: number;
  /** maxConcurrentActivityTaskExecutions per queue (inference: tasks running at once; see inferencePrefetch). */
  maxConcurrentActivities: Record<QueueRole, number>;
  /**
   * Inference tasks held beyond those running (RLHF_INFERENCE_PREFETCH, default 0): each waits for an engine turn,
   * so the next shard starts as soon as one finishes, without a round trip to Temporal. For a worker that is the
   * only one on its queue (npm run demo sets 1); with several, a held task could have started on an idle worker.
   */
  inferencePrefetch: number;
  /** Local model copies kept in <scratch>/models beyond those in use (RLHF_MODEL_CACHE_KEEP). */
  modelCacheKeep: number;
}

export interface RlhfConfig {
  temporal: TemporalSettings;
  s3: S3Settings;
  /** Task queue name per role. */
  queues: Record<QueueRole, string>;
  worker: WorkerSettings;
}

type Env = Record<string, string | undefined>;

const boolText = z.enum(['1', '0', 'true', 'false', 'yes', 'no']);
const duration = z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)?$/);
const queueName = z.string().regex(/^[A-Za-z0-9._-]{1,200}$/);

function read<T>(env: Env, name: string, schema: z.ZodType<T>, allowed: string, fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(name, `invalid ${name}='${raw}': expected ${allowed}`);
  return parsed.data;
}

function readInt(env: Env, name: string, min: number, max: number, fallback: number): number {
  const schema = z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
  return read(env, name, schema, `an integer from ${min} to ${max}`, fallback);
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const v = read(env, name, boolText, 'one of 1, 0, true, false, yes, no', undefined);
  return v === undefined ? fallback : v === '1' || v === 'true' || v === 'yes';
}

function readEndpoint(env: Env): string | undefined {
  const raw = env.S3_ENDPOINT;
  if (raw === 'aws') return undefined;
  const value = raw === undefined || raw === '' ? DEFAULTS.s3Endpoint : raw;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('S3_ENDPOINT', `invalid S3_ENDPOINT='${value}': expected an http(s) URL such as ${DEFAULTS.s3Endpoint} (or 'aws')`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('S3_ENDPOINT', `invalid S3_ENDPOINT='${value}': expected an http(s) URL such as ${DEFAULTS.s3Endpoint} (or 'aws')`);
  }
  return value.replace(/\/+$/, '');
}

/** True for localhost, 127.x and ::1 — the only endpoints that get the dev stack's keys by default. */
export function isLoopbackEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

/** Explicit AWS_* keys; else the dev keys for a loopback endpoint; else undefined (SDK default chain). */
export function resolveS3Credentials(env: Env, endpoint: string | undefined): S3Credentials | undefined {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id && !secret) throw new ConfigError('AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both or neither');
  if (secret && !id) throw new ConfigError('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both or neither');
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  if (env.AWS_PROFILE || !isLoopbackEndpoint(endpoint)) return undefined;
  return { ...DEV_S3_CREDENTIALS };
}

function readS3(env: Env): S3Settings {
  const endpoint = readEndpoint(env);
  const bucket = read(
    env,
    'S3_BUCKET',
    z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/),
    'an S3 bucket name (3-63 chars: lowercase letters, digits, dots, hyphens)',
    DEFAULTS.s3Bucket,
  );
  const region = read(env, 'S3_REGION', z.string().regex(/^[a-z0-9-]+$/), 'a region name such as us-east-1', env.AWS_REGION || DEFAULTS.s3Region);
  return {
    endpoint,
    bucket,
    region,
    forcePathStyle: readBool(env, 'S3_FORCE_PATH_STYLE', endpoint !== undefined),
    credentials: resolveS3Credentials(env, endpoint),
    partSize: readInt(env, 'S3_PART_SIZE_MB', 5, 5120, 16) * 1024 * 1024,
    queueSize: readInt(env, 'S3_UPLOAD_CONCURRENCY', 1, 64, 4),
    multipartThreshold: readInt(env, 'S3_MULTIPART_THRESHOLD_MB', 5, 5120, 1024) * 1024 * 1024,
    ...readSse(env),
  };
}

/** S3_SSE=AES256|aws:kms (+ S3_SSE_KMS_KEY_ID for aws:kms). */
function readSse(env: Env): { sse?: S3ServerSideEncryption } {
  const algorithm = read(env, 'S3_SSE', z.enum(['AES256', 'aws:kms']), 'AES256 or aws:kms', undefined);
  const kmsKeyId = env.S3_SSE_KMS_KEY_ID || undefined;
  if (kmsKeyId !== undefined && algorithm !== 'aws:kms') throw new ConfigError('S3_SSE_KMS_KEY_ID', 'S3_SSE_KMS_KEY_ID is set but S3_SSE is not aws:kms: set S3_SSE=aws:kms');
  if (kmsKeyId !== undefined && !/^[A-Za-z0-9:/_.-]{1,2048}$/.test(kmsKeyId)) throw new ConfigError('S3_SSE_KMS_KEY_ID', `invalid S3_SSE_KMS_KEY_ID='${kmsKeyId}': expected a KMS key id, alias or ARN`);
  return algorithm === undefined ? {} : { sse: { algorithm, ...(kmsKeyId !== undefined ? { kmsKeyId } : {}) } };
}

function readTemporal(env: Env): TemporalSettings {
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    const overrideEnvVars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    loaded = loadClientConnectConfig({ overrideEnvVars });
  } catch (err) {
    const variable = env.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE' : 'TEMPORAL_PROFILE';
    throw new ConfigError(variable, `invalid Temporal client configuration (${variable}): ${(err as Error).message}`);
  }
  const address = loaded.connectionOptions.address ?? DEFAULTS.temporalAddress;
  if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
    throw new ConfigError('TEMPORAL_ADDRESS', `invalid TEMPORAL_ADDRESS='${address}': expected host:port such as ${DEFAULTS.temporalAddress}`);
  }
  const namespace = loaded.namespace ?? DEFAULTS.temporalNamespace;
  if (!/^[A-Za-z0-9._-]{2,255}$/.test(namespace)) {
    throw new ConfigError('TEMPORAL_NAMESPACE', `invalid TEMPORAL_NAMESPACE='${namespace}': expected 2-255 letters, digits, '.', '_' or '-'`);
  }
  return {
    address,
    namespace,
    apiKey: loaded.connectionOptions.apiKey,
    connectionOptions: { ...loaded.connectionOptions, address },
  };
}

/** Parses RLHF_WORKER_QUEUES / --queues: a comma-separated subset of control,inference,train. */
export function parseQueueRoles(text: string, variable = 'RLHF_WORKER_QUEUES'): QueueRole[] {
  const roles = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = roles.filter((r) => !(QUEUE_ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || bad.length > 0) {
    throw new ConfigError(variable, `invalid ${variable}='${text}': expected a comma-separated subset of ${QUEUE_ROLES.join(',')}`);
  }
  return [...new Set(roles as QueueRole[])];
}

/** Reads and validates the whole configuration. Throws ConfigError on the first invalid variable. Printing
 * the result (JSON.stringify, String, console.log) shows "[redacted]" for secrets (shared/secrets.ts). */
export function loadConfig(env: Env = process.env): RlhfConfig {
  return withRedaction(readConfig(env));
}

function readConfig(env: Env): RlhfConfig {
  const queues: Record<QueueRole, string> = {
    control: read(env, 'RLHF_CONTROL_QUEUE', queueName, 'a task queue name (letters, digits, . _ -)', DEFAULTS.controlQueue),
    inference: read(env, 'RLHF_INFERENCE_QUEUE', queueName, 'a task queue name (letters, digits, . _ -)', DEFAULTS.inferenceQueue),
    train: read(env, 'RLHF_TRAIN_QUEUE', queueName, 'a task queue name (letters, digits, . _ -)', DEFAULTS.trainQueue),
  };
  return {
    temporal: readTemporal(env),
    s3: readS3(env),
    queues,
    worker: {
      logLevel: read(env, 'RLHF_LOG_LEVEL', z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']), 'one of TRACE, DEBUG, INFO, WARN, ERROR', 'INFO'),
      roles: env.RLHF_WORKER_QUEUES ? parseQueueRoles(env.RLHF_WORKER_QUEUES) : [...QUEUE_ROLES],
      shutdownGraceTime: read(env, 'RLHF_SHUTDOWN_GRACE', duration, "a duration such as 60s, 5m or 30000 (ms)", DEFAULTS.shutdownGraceTime),
      maxCachedWorkflows: readInt(env, 'RLHF_MAX_CACHED_WORKFLOWS', 0, 100_000, DEFAULTS.maxCachedWorkflows),
      maxConcurrentActivities: {
        control: readInt(env, 'RLHF_CONTROL_CONCURRENCY', 1, 1000, DEFAULTS.concurrency.control),
        inference: readInt(env, 'RLHF_INFERENCE_CONCURRENCY', 1, 1000, DEFAULTS.concurrency.inference),
        train: readInt(env, 'RLHF_TRAIN_CONCURRENCY', 1, 1000, DEFAULTS.concurrency.train),
      },
      inferencePrefetch: readInt(env, 'RLHF_INFERENCE_PREFETCH', 0, 1000, DEFAULTS.inferencePrefetch),
      modelCacheKeep: readInt(env, 'RLHF_MODEL_CACHE_KEEP', 1, 1000, DEFAULTS.modelCacheKeep),
    },
  };
}
