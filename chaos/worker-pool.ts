// Worker processes for the chaos harness: one child process per queue role (`workers/main.ts --queues
// <role>`), each restartable after a SIGKILL. Logs go to <logDir>/worker-<role>.log.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueueRole } from '../shared/config';

const MAIN = fileURLToPath(new URL('../workers/main.ts', import.meta.url));

export interface WorkerPool {
  start(role: QueueRole): void;
  /** SIGKILL the role's process and wait for it to exit. False when it was not running. */
  kill(role: QueueRole): Promise<boolean>;
  running(role: QueueRole): boolean;
  /** Restarts of each role (after kills or unexpected exits). */
  starts: Record<QueueRole, number>;
  /** Exits that the pool did not cause (a crash). */
  unexpectedExits: Array<{ role: QueueRole; code: number | null; signal: string | null }>;
  stopAll(): Promise<void>;
}

export function workerPool(env: Record<string, string>, logDir: string, main = MAIN): WorkerPool {
  const procs = new Map<QueueRole, { child: ChildProcess; exited: Promise<void>; killing: boolean }>();
  const starts: Record<QueueRole, number> = { control: 0, inference: 0, train: 0 };
  const unexpectedExits: WorkerPool['unexpectedExits'] = [];
  const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const pool: WorkerPool = {
    starts,
    unexpectedExits,
    start(role) {
      const log = openSync(join(logDir, `worker-${role}.log`), 'a');
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, ['--import', 'tsx', main, '--queues', role], {
          stdio: ['ignore', log, log],
          env: { ...process.env, ...env },
        });
      } finally {
        closeSync(log);
      }
      starts[role] += 1;
      const entry = { child, killing: false, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
      child.once('exit', (code, signal) => {
        if (!entry.killing) unexpectedExits.push({ role, code, signal });
      });
      procs.set(role, entry);
    },
    async kill(role) {
      const p = procs.get(role);
      if (!p || !alive(p.child)) return false;
      p.killing = true;
      p.child.kill('SIGKILL');
      await p.exited;
      return true;
    },
    running: (role) => {
      const p = procs.get(role);
      return p !== undefined && alive(p.child);
    },
    async stopAll() {
      await Promise.all(
        [...procs.values()].map(async (p) => {
          if (!alive(p.child)) return;
          p.killing = true;
          p.child.kill('SIGTERM');
          const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
          await p.exited;
          clearTimeout(t);
        }),
      );
    },
  };
  return pool;
}
