// A private Temporal dev server for the chaos harness (own port, own SQLite file, headless), started
// directly with the pinned binary (scripts/tools.ts) so it can use a short workflow-task timeout: a killed
// control worker's in-flight workflow task is retried after 10 s instead of the stack's 60 s.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { searchAttributeFlags } from '../shared/search-attributes';
import { requireTool } from '../scripts/tools';
import { QUEUE_READER_FLAGS, SINGLE_PARTITION_FLAGS, SQLITE_PRAGMA_FLAGS } from '../scripts/stack';

export interface ChaosTemporal {
  address: string;
  start(): Promise<void>;
  /** SIGKILL (hard = true) or SIGTERM, then wait for the process to exit. */
  stop(hard?: boolean): Promise<void>;
  running(): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function chaosTemporal(dataDir: string, port: number, workflowTaskTimeout = '10s'): ChaosTemporal {
  const address = `127.0.0.1:${port}`;
  const binary = requireTool('temporal');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const healthy = (): boolean => {
    const out = spawnSync(binary, ['operator', 'cluster', 'health', '--address', address, '--command-timeout', '3s'], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...process.env, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '', TEMPORAL_API_KEY: '', TEMPORAL_TLS: '' },
    });
    return out.status === 0 && /SERVING/.test(out.stdout);
  };
  return {
    address,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async start() {
      await mkdir(join(dataDir, 'logs'), { recursive: true });
      const log = openSync(join(dataDir, 'logs', 'temporal.log'), 'a');
      try {
        child = spawn(
          binary,
          [
            'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless',
            '--db-filename', join(dataDir, 'temporal.sqlite'),
            ...SQLITE_PRAGMA_FLAGS,
            '--dynamic-config-value', `history.defaultWorkflowTaskTimeout="${workflowTaskTimeout}"`,
            // Its database is always new (and kept across its restarts): one partition, as scripts/stack.ts.
            ...SINGLE_PARTITION_FLAGS,
            ...QUEUE_READER_FLAGS,
            ...searchAttributeFlags(),
            '--log-level', 'error',
          ],
          { stdio: ['ignore', log, log], env: { ...process.env, TEMPORAL_ADDRESS: '', TEMPORAL_API_KEY: '' } },
        );
      } finally {
        closeSync(log);
      }
      const c = child;
      exited = new Promise((resolve) => c.once('exit', () => resolve()));
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        if (c.exitCode !== null) throw new Error(`chaos Temporal server exited during start (log ${join(dataDir, 'logs', 'temporal.log')})`);
        if (healthy()) return;
        await sleep(300);
      }
      throw new Error(`chaos Temporal server on ${address} not healthy after 120 s`);
    },
    async stop(hard = false) {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill(hard ? 'SIGKILL' : 'SIGTERM');
      const t = setTimeout(() => child?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
