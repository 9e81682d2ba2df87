// Payload encryption end to end with the Temporal Web UI: a private dev server started with
// --ui-codec-endpoint pointing at scripts/codec-server.ts. The raw history (a client without the codec) holds
// ciphertext only; headless Chromium (Debian's, via playwright-core) opens the workflow in the UI and sees the
// decoded input, fetched by the browser from the codec server (CORS limited to the UI origin).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../shared/codec';
import { originsFor, startCodecServer, type RunningCodecServer } from '../../scripts/codec-server';
import { requireChromium } from '../../scripts/ensure-chromium';
import { requireTool } from '../../scripts/tools';
import { freePort } from '../helpers/ports';

const dataDir = mkdtempSync(join(tmpdir(), 'rlhf-codec-ui-'));
const codec = new AesGcmPayloadCodec({ id: 'ui-test', key: new Uint8Array(randomBytes(32)) });
const decodeCalls: Array<{ namespace: string | undefined; origin: string | undefined }> = [];
let server: ChildProcess | undefined;
let codecServer: RunningCodecServer;
let browser: Browser | undefined;
let address: string;
let uiUrl: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const [port, uiPort] = [await freePort(), await freePort()];
  address = `127.0.0.1:${port}`;
  uiUrl = `http://127.0.0.1:${uiPort}`;
  // Count the UI's decode calls (and what it sends) around the real codec.
  const counting = {
    encode: (p: Payload[]) => codec.encode(p),
    decode: (p: Payload[]) => codec.decode(p),
  };
  codecServer = await startCodecServer({ codec: counting, allowedOrigins: originsFor(uiUrl) });
  codecServer.server.prependListener('request', (req) => {
    if (req.method === 'POST') decodeCalls.push({ namespace: req.headers['x-namespace'] as string | undefined, origin: req.headers.origin });
  });
  const temporal = requireTool('temporal');
  const log = openSync(join(dataDir, 'temporal.log'), 'a');
  server = spawn(temporal, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--ui-codec-endpoint', codecServer.url, '--db-filename', join(dataDir, 'temporal.sqlite'), '--log-level', 'error'], {
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const out = spawnSync(temporal, ['operator', 'cluster', 'health', '--address', address, '--command-timeout', '3s'], { encoding: 'utf8', timeout: 10_000 });
    const ui = await fetch(uiUrl).then((r) => r.ok, () => false);
    if (out.status === 0 && /SERVING/.test(out.stdout) && ui) break;
    if (server.exitCode !== null || Date.now() > deadline) throw new Error(`Temporal dev server with UI did not start: ${readFileSync(join(dataDir, 'temporal.log'), 'utf8').slice(-500)}`);
    await sleep(500);
  }
  browser = await chromium.launch({ executablePath: requireChromium(), args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await codecServer?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server?.once('exit', r));
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('encrypted payloads in the Temporal UI', () => {
  it('history holds ciphertext; the UI shows plaintext through the codec server', async () => {
    const marker = `plaintext-marker-${randomBytes(6).toString('hex')}`;
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, dataConverter: { payloadCodecs: [codec] } });
    const raw = new Client({ connection });
    try {
      const workflowId = `codec-ui-${randomBytes(4).toString('hex')}`;
      // No worker needed: the input is recorded in WorkflowExecutionStarted.
      await client.workflow.start('rlhfPipeline', { taskQueue: 'codec-ui-nobody-polls', workflowId, args: [{ run: marker, seed: 42 }] });

      const history = await raw.workflow.getHandle(workflowId).fetchHistory();
      const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      expect(Buffer.from(input?.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(input?.metadata?.['encryption-key-id'] ?? []).toString()).toBe('ui-test');
      const rawText = JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
      expect(rawText).not.toContain(marker);
      // The SDK's own decoding (with the codec) gets the plaintext back.
      const [decoded] = await codec.decode([input as Payload]);
      expect(Buffer.from(decoded?.data ?? []).toString()).toContain(marker);

      const page = await (browser as Browser).newPage();
      try {
        await page.goto(`${uiUrl}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'domcontentloaded' });
        await page.getByText(marker).first().waitFor({ timeout: 60_000 });
        expect(decodeCalls.length).toBeGreaterThan(0);
        expect(decodeCalls.some((c) => c.origin === uiUrl && c.namespace === 'default')).toBe(true);
      } catch (err) {
        const text = await page.locator('body').innerText().catch(() => '');
        throw new Error(`UI did not show the decoded input (${decodeCalls.length} codec calls): ${(err as Error).message}\n${text.slice(0, 1500)}`);
      } finally {
        await page.close();
      }
      await raw.workflow.getHandle(workflowId).terminate('test done');
    } finally {
      await connection.close();
    }
  }, 240_000);
});
