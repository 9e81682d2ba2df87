// Secrets never leak, and payload encryption hides everything else. One small real pipeline (tiny engine
// model, 1 iteration) runs with recognisable fake secrets — S3 keys of a private versitygw, a Temporal API
// key (sent as a gRPC header; the dev server ignores it) — and RLHF_PAYLOAD_KEY set. Then:
//   - the raw history (a client WITHOUT the codec) holds only encrypted payloads, none containing plaintext;
//   - decrypted payloads, heartbeat details sampled while it ran, worker logs (Runtime logger + stdout/stderr),
//     every S3 object, the HTML report and error messages contain none of the secrets.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { chaosRecipe } from '../../chaos/harness';
import { collectRunReport } from '../../cli/report-data';
import { renderRunReport } from '../../report/run-report';
import { connectClient } from '../../shared/client';
import { type AesGcmPayloadCodec, ENCRYPTED_ENCODING, payloadCodecFromEnv } from '../../shared/codec';
import { loadConfig, type RlhfConfig } from '../../shared/config';
import { formatLogEntry } from '../../shared/log';
import { ArtifactStore } from '../../shared/store';
import { stackOptions, startS3, stopS3 } from '../../scripts/stack';
import { createWorkers, type RlhfWorkers } from '../../workers/main';
import { freePort } from '../helpers/ports';
import { testServices, uniqueId } from '../helpers/services';

const SECRETS = {
  accessKeyId: `AKIACANARY${randomBytes(5).toString('hex').toUpperCase()}`,
  secretAccessKey: `canary-s3-secret-${randomBytes(8).toString('hex')}`,
  apiKey: `canary-temporal-api-key-${randomBytes(8).toString('hex')}`,
};
const PAYLOAD_KEY = randomBytes(32).toString('base64');
const secretList = (): string[] => [SECRETS.accessKeyId, SECRETS.secretAccessKey, SECRETS.apiKey, PAYLOAD_KEY];
const leaks = (text: string): string[] => secretList().filter((s) => text.includes(s));

// Every log line of this process: the Temporal Runtime logger (workers, activities, workflows) and stdio.
const logs: string[] = [];
Runtime.install({ logger: new DefaultLogger('DEBUG', (entry) => logs.push(formatLogEntry(entry))) });
const stdoutWrite = process.stdout.write.bind(process.stdout);
const stderrWrite = process.stderr.write.bind(process.stderr);
process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => (logs.push(String(chunk)), stdoutWrite(chunk as string, ...(rest as [])))) as typeof process.stdout.write;
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => (logs.push(String(chunk)), stderrWrite(chunk as string, ...(rest as [])))) as typeof process.stderr.write;

let dataDir: string;
let s3: ReturnType<typeof stackOptions>;
let bundle: WorkflowBundle;
let config: RlhfConfig;
let store: ArtifactStore;
let workers: RlhfWorkers;
let running: Promise<void>;
const queues = { control: uniqueId('sec-control'), inference: uniqueId('sec-inference'), train: uniqueId('sec-train') };

beforeAll(async () => {
  process.env.RLHF_PAYLOAD_KEY = PAYLOAD_KEY;
  dataDir = await mkdtemp(join(tmpdir(), 'rlhf-secrets-'));
  s3 = stackOptions({ dataDir, s3Port: await freePort(), uiPort: null, services: ['s3'], bucket: 'rlhf-secrets', credentials: { accessKeyId: SECRETS.accessKeyId, secretAccessKey: SECRETS.secretAccessKey } }, process.env);
  await startS3(s3);
  config = loadConfig({
    TEMPORAL_ADDRESS: testServices().temporalAddress,
    TEMPORAL_API_KEY: SECRETS.apiKey,
    TEMPORAL_TLS: 'false',
    S3_ENDPOINT: `http://127.0.0.1:${s3.s3Port}`,
    S3_BUCKET: s3.bucket,
    AWS_ACCESS_KEY_ID: SECRETS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SECRETS.secretAccessKey,
    RLHF_CONTROL_QUEUE: queues.control,
    RLHF_INFERENCE_QUEUE: queues.inference,
    RLHF_TRAIN_QUEUE: queues.train,
  });
  expect(config.temporal.apiKey).toBe(SECRETS.apiKey);
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  store = ArtifactStore.fromConfig(config);
  workers = await createWorkers({ config, workflowBundle: bundle, store, activities: createActivities({ store, config, scratchDir: join(dataDir, 'scratch') }) });
  running = workers.run();
}, 240_000);

afterAll(async () => {
  workers?.shutdown();
  await running?.catch(() => undefined);
  if (s3) await stopS3(s3);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  delete process.env.RLHF_PAYLOAD_KEY;
});

/** Proto messages as JSON with bytes in base64 (protobufjs toJSON, plus any plain Uint8Array). */
const toJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));

/** Every payload-shaped object in a JSON tree (outside search attributes, which the server must read). */
function payloadsIn(value: unknown, path = '', out: Array<{ path: string; payload: { metadata?: Record<string, string>; data?: string } }> = []): typeof out {
  if (Array.isArray(value)) value.forEach((v, i) => payloadsIn(v, `${path}[${i}]`, out));
  else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push({ path, payload: o as { metadata?: Record<string, string>; data?: string } });
    else for (const [k, v] of Object.entries(o)) if (k !== 'searchAttributes' && k !== 'indexedFields') payloadsIn(v, `${path}.${k}`, out);
  }
  return out;
}
const toPayload = (p: { metadata?: Record<string, string>; data?: string }): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
});

/** The histories (JSON) of a workflow and all its children / continued runs. */
async function historyTree(client: Client, workflowId: string): Promise<Array<{ id: string; json: string }>> {
  const out: Array<{ id: string; json: string }> = [];
  const queue: Array<{ workflowId: string; runId?: string }> = [{ workflowId }];
  const seen = new Set<string>();
  while (queue.length > 0 && out.length < 200) {
    const next = queue.shift() as { workflowId: string; runId?: string };
    const history = await client.workflow.getHandle(next.workflowId, next.runId).fetchHistory();
    const json = toJson(history);
    const key = `${next.workflowId}/${next.runId ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ id: next.workflowId, json });
    for (const ev of history.events ?? []) {
      const child = ev.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
      const cont = ev.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (cont) queue.push({ workflowId: next.workflowId, runId: cont });
    }
  }
  return out;
}

describe('secrets and payload encryption (real pipeline)', () => {
  it('no secret in histories, heartbeats, logs, S3, the report or errors; raw history is ciphertext only', async () => {
    const client = await connectClient(config);
    const raw = new Client({ connection: await Connection.connect({ address: testServices().temporalAddress }), namespace: 'default' });
    const codec = payloadCodecFromEnv() as AesGcmPayloadCodec;
    const run = uniqueId('secrets');
    const heartbeats: Array<{ path: string; payload: { metadata?: Record<string, string>; data?: string } }> = [];
    try {
      const handle = await client.workflow.start('rlhfPipeline', {
        taskQueue: queues.control,
        workflowId: run,
        args: [{ run, ...chaosRecipe(7, 1), execution: { ...chaosRecipe(7, 1).execution, taskQueues: queues } }],
      });
      // Sample pending activities' heartbeat details (raw, through the codec-less client) while it runs.
      let done = false;
      const sampler = (async () => {
        while (!done) {
          try {
            for (const h of await historyTree(raw, run)) {
              const d = await raw.workflow.getHandle(h.id).describe();
              for (const a of d.raw.pendingActivities ?? []) {
                if (a.heartbeatDetails?.payloads?.length) heartbeats.push(...payloadsIn(JSON.parse(toJson({ d: a.heartbeatDetails, l: a.lastFailure ?? null }))));
              }
            }
          } catch {
            // a workflow may close between list and describe
          }
          await new Promise((r) => setTimeout(r, 1500));
        }
      })();
      const result = await handle.result().finally(() => (done = true));
      await sampler;
      expect(result.iterations).toBe(1);

      // 1. Raw histories: every payload encrypted; no plaintext (run name, S3 keys) and no secret anywhere.
      const histories = await historyTree(raw, run);
      expect(histories.length).toBeGreaterThanOrEqual(4);
      let payloadCount = 0;
      let decodedWithRun = 0;
      for (const h of histories) {
        expect(leaks(h.json), h.id).toEqual([]);
        for (const { path, payload } of payloadsIn(JSON.parse(h.json))) {
          const data = Buffer.from(payload.data ?? '', 'base64').toString('latin1');
          expect(data.includes(run), `${h.id} ${path} holds the run name in clear`).toBe(false);
          expect(data.includes('runs/'), `${h.id} ${path} holds an S3 key in clear`).toBe(false);
          // patched() markers are written by the SDK core, outside the data converter: they hold only the
          // patch id (workflow code's constant), never user data.
          if (/markerRecordedEventAttributes\.details\.patch-data\./.test(path)) {
            expect(JSON.parse(data), `${h.id} ${path}`).toEqual({ id: expect.stringMatching(/^[a-z0-9-]+$/), deprecated: expect.any(Boolean) });
            continue;
          }
          // A local activity's marker: its `data` detail is the core's bookkeeping (sequence, attempt, activity
          // type, times), written outside the data converter; its `result` detail is encrypted (checked below).
          if (/markerRecordedEventAttributes\.details\.data\./.test(path)) {
            const meta = JSON.parse(data) as Record<string, unknown>;
            expect(Object.keys(meta).sort(), `${h.id} ${path}`).toEqual(['activity_id', 'activity_type', 'attempt', 'backoff', 'complete_time', 'original_schedule_time', 'seq']);
            expect(meta['activity_type'], `${h.id} ${path}`).toMatch(/^[A-Za-z]+$/);
            continue;
          }
          payloadCount += 1;
          expect(Buffer.from(payload.metadata?.encoding ?? '', 'base64').toString(), `${h.id} ${path}`).toBe(ENCRYPTED_ENCODING);
          // 2. Decrypted: real content (the run name appears somewhere), still no secret.
          const [plain] = await codec.decode([toPayload(payload)]);
          const text = Buffer.from(plain?.data ?? []).toString('utf8');
          expect(leaks(text)).toEqual([]);
          if (text.includes(run)) decodedWithRun += 1;
        }
      }
      expect(payloadCount).toBeGreaterThan(20);
      // The scan sees real content: decrypted payloads name the run (inputs, results, S3 refs).
      expect(decodedWithRun).toBeGreaterThan(5);
      expect(heartbeats.length, 'no heartbeat details were sampled while the pipeline ran').toBeGreaterThan(0);
      // Heartbeat details seen while running: encrypted, and no secret once decrypted.
      for (const { payload } of heartbeats) {
        expect(Buffer.from(payload.metadata?.encoding ?? '', 'base64').toString()).toBe(ENCRYPTED_ENCODING);
        const [plain] = await codec.decode([toPayload(payload)]);
        expect(leaks(Buffer.from(plain?.data ?? []).toString('utf8'))).toEqual([]);
      }

      // 3. S3: no object (data, models, manifests, summaries) contains a secret.
      const objects = await store.list(`runs/${run}`);
      expect(objects.length).toBeGreaterThan(10);
      for (const o of objects) expect(leaks((await store.getBytes(o.key)).toString('latin1')), o.key).toEqual([]);

      // 4. The HTML report.
      const collected = await collectRunReport(client, store, config, run);
      const html = renderRunReport(collected.data);
      expect(html.length).toBeGreaterThan(1000);
      expect(leaks(html)).toEqual([]);

      // 5. Errors: a failing pipeline, a store with a wrong secret, an unreachable Temporal with the API key.
      const bad = await client.workflow
        .execute('rlhfPipeline', { taskQueue: queues.control, workflowId: `${run}-bad`, args: [{ run: `${run}-bad`, online: { beta: -1 }, execution: { taskQueues: queues } }] })
        .then(() => '', (err: Error) => `${err.message} ${String((err.cause as Error)?.message)} ${JSON.stringify(err)}`);
      expect(bad).toMatch(/beta/);
      expect(leaks(bad)).toEqual([]);
      const wrong = ArtifactStore.fromConfig(loadConfig({ S3_ENDPOINT: config.s3.endpoint as string, S3_BUCKET: s3.bucket, AWS_ACCESS_KEY_ID: SECRETS.accessKeyId, AWS_SECRET_ACCESS_KEY: 'not-the-secret-but-also-long' }));
      const accessError = await wrong.checkBucket().then(() => '', (err: Error) => `${err.name} ${err.message}`);
      expect(accessError).toMatch(/StoreAccessError|rejected/);
      expect(leaks(accessError)).toEqual([]);
      const unreachable = await connectClient(loadConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, TEMPORAL_API_KEY: SECRETS.apiKey, TEMPORAL_TLS: 'false' }), { connectTimeout: '2s' }).then(
        () => '',
        (err: Error) => `${err.name} ${err.message}`,
      );
      expect(unreachable).toMatch(/unreachable/);
      expect(leaks(unreachable)).toEqual([]);
      expect(leaks(`${String(config)} ${JSON.stringify(config)}`)).toEqual([]);

      // 6. Logs of this process (workers, activities, workflow sandbox, stdio).
      expect(logs.length).toBeGreaterThan(0);
      expect(leaks(logs.join('\n'))).toEqual([]);
    } finally {
      await client.connection.close();
      await raw.connection.close();
    }
  }, 600_000);
});
