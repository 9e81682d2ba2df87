// What every activity needs: its dependencies, the Temporal activity context (heartbeat, resume details,
// cancellation), artifact references → (store, prefix), scratch folders, and the mapping of known failures
// to non-retryable ApplicationFailures.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Engine } from '../engine/api';
import { ENGINE_INPUT_ERROR } from '../engine/api';
import type { RlhfConfig } from '../shared/config';
import { ErrorType } from '../shared/errors';
import { ArtifactStore, type Manifest, normalizePrefix, parseS3Uri } from '../shared/store';
import type { ArtifactRef } from './types';

export interface ActivityDeps {
  store: ArtifactStore;
  config: RlhfConfig;
  /** Default: `import('../engine')`, loaded on first use (control-only workers never load it). */
  engine?: Engine;
  /** Local scratch and model cache (default: $RLHF_SCRATCH_DIR or <tmpdir>/durable-rlhf). */
  scratchDir?: string;
}

export class Deps {
  readonly store: ArtifactStore;
  readonly scratchDir: string;
  private enginePromise: Promise<Engine> | undefined;
  private readonly stores = new Map<string, ArtifactStore>();

  constructor(readonly raw: ActivityDeps) {
    this.store = raw.store;
    this.scratchDir = raw.scratchDir ?? process.env.RLHF_SCRATCH_DIR ?? join(tmpdir(), 'durable-rlhf');
    if (raw.engine) this.enginePromise = Promise.resolve(raw.engine);
  }

  engine(): Promise<Engine> {
    this.enginePromise ??= import('../engine').then((m) => m.engine);
    return this.enginePromise;
  }

  /** The store holding `ref` and its prefix: a key prefix of the configured bucket, or `s3://bucket/prefix`. */
  resolve(ref: ArtifactRef): { store: ArtifactStore; prefix: string } {
    if (!ref.startsWith('s3://')) return { store: this.store, prefix: normalizePrefix(ref) };
    const { bucket, key } = parseS3Uri(ref);
    if (bucket === this.store.bucket) return { store: this.store, prefix: normalizePrefix(key) };
    let store = this.stores.get(bucket);
    if (!store) {
      store = new ArtifactStore({ s3: this.store.s3, bucket, partSize: this.store.partSize, queueSize: this.store.queueSize });
      this.stores.set(bucket, store);
    }
    return { store, prefix: normalizePrefix(key) };
  }

  /** The committed manifest of `ref`, or a non-retryable MissingArtifact failure naming it. */
  async requireCommitted(ref: ArtifactRef, what: string): Promise<{ store: ArtifactStore; prefix: string; manifest: Manifest }> {
    const { store, prefix } = this.resolve(ref);
    const manifest = await store.getManifest(prefix);
    if (!manifest) {
      throw ApplicationFailure.nonRetryable(`${what} ${store.uri(prefix)}/ is not committed (no _manifest.json): the step that writes it has not finished`, ErrorType.MissingArtifact);
    }
    return { store, prefix, manifest };
  }

  /** A fresh scratch folder for one call; removed by the returned cleanup. */
  async scratch(label: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
    const root = join(this.scratchDir, 'work');
    await mkdir(root, { recursive: true });
    const dir = await mkdtemp(join(root, `${label.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60)}-`));
    return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
  }
}

/** sha256 of text, hex (cache keys). */
export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// ------------------------------------------------------------------ activity context

/** The heartbeat details of the previous attempt (undefined on the first). */
export function resumeDetails<T>(): T | undefined {
  try {
    return Context.current().info.heartbeatDetails as T | undefined;
  } catch {
    return undefined;
  }
}

/** Heartbeats small details (progress, the S3 key just written); a no-op outside an activity and in a local
 * activity (workflows/activities.ts `shortControl`: it runs inside a workflow task, which the worker keeps alive). */
export function heartbeat(details: Record<string, unknown>): void {
  try {
    const context = Context.current();
    if (context.info.isLocal) return;
    context.heartbeat(details);
  } catch {
    // not in an activity context (unit tests of helpers)
  }
}

/**
 * Heartbeats `details` every `everyMs` while `work` runs: long transfers (a multi-GB checkpoint upload)
 * have no progress callback, and must not look like a dead worker. startToCloseTimeout still bounds them.
 */
export async function keepAlive<T>(details: Record<string, unknown>, work: Promise<T>, everyMs = 10_000): Promise<T> {
  heartbeat(details);
  const timer = setInterval(() => heartbeat(details), everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/** Aborted when Temporal cancels the activity (delivered with heartbeats). */
export function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ failures

const NON_RETRYABLE_BY_NAME: Record<string, string> = {
  [ENGINE_INPUT_ERROR]: ErrorType.EngineInput,
  DataImportError: ErrorType.InvalidData,
  PairDataError: ErrorType.InvalidData,
  MalformedJsonlError: ErrorType.InvalidData,
  UncommittedArtifactError: ErrorType.MissingArtifact,
  ChecksumMismatchError: ErrorType.CorruptArtifact,
  MalformedManifestError: ErrorType.CorruptArtifact,
  StoreUsageError: ErrorType.InvalidOptions,
};

/** Cancellation reasons that are not a request to stop the step. */
const INTERRUPTIONS = new Set(['WORKER_SHUTDOWN', 'TIMED_OUT', 'NOT_FOUND', 'HEARTBEAT_DETAILS_CONVERSION_FAILED']);

/** Maps an error to what the activity should throw: known bad-input errors become non-retryable. */
export function toFailure(err: unknown, activity: string): unknown {
  const signal = cancellationSignal();
  if (signal?.aborted) {
    // Only a cancellation the workflow asked for (or a pause/reset) reports "cancelled"; a worker shutting
    // down must fail the attempt retryably so another worker resumes the step from its checkpoint.
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? '');
    if (INTERRUPTIONS.has(reason)) {
      return ApplicationFailure.create({ message: `${activity} interrupted (${reason}); the retry resumes from the last checkpoint`, type: 'ActivityInterrupted', nonRetryable: false });
    }
    return err instanceof CancelledFailure ? err : new CancelledFailure(`${activity} cancelled`);
  }
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const name = err instanceof Error ? err.name : '';
  const type = NON_RETRYABLE_BY_NAME[name];
  if (type) return ApplicationFailure.create({ message: `${activity}: ${(err as Error).message}`, type, nonRetryable: true, cause: err as Error });
  return err;
}

/** Wraps an activity body so known bad-input errors fail non-retryably with the activity's name. */
export function activity<I, O>(name: string, body: (input: I) => Promise<O>): (input: I) => Promise<O> {
  const fn = async (input: I): Promise<O> => {
    try {
      return await body(input);
    } catch (err) {
      throw toFailure(err, name);
    }
  };
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

/** Fails non-retryably with an error type from shared/errors.ts. */
export function fail(message: string, type: string): never {
  throw ApplicationFailure.nonRetryable(message, type);
}
