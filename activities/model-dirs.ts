// The on-disk side of the model cache: <scratch>/models/<key>/ folders, one verified copy of a committed
// model each. A multi-day run commits a new policy every iteration, so without a bound the folder grows by
// one model per iteration (16 GB for an 8B model in bf16) until the worker's disk (or its pod's emptyDir
// sizeLimit) is full. After each use, the least recently used copies beyond `keep` are removed, except
// any used within `graceMs` (the engine reads a model's files fully while loading it, so a copy can go once
// it is loaded; the grace covers a load in progress in another worker process sharing the folder) and any
// this process holds loaded. Temporary downloads left by a killed process are removed too.
import { existsSync } from 'node:fs';
import { readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

/** Marker of a complete copy; its mtime is the copy's last use. */
export const COMPLETE = '.complete';

export interface PruneOptions {
  /** Complete copies to keep besides the protected ones (≥ 1). */
  keep: number;
  /** Copies used more recently than this are never removed. */
  graceMs: number;
  /** Folders this process holds loaded or is downloading. */
  inUse: ReadonlySet<string>;
  now?: number;
}

/** Records a use of the copy in `dir` (the LRU order of pruning). */
export async function markUsed(dir: string, now = Date.now()): Promise<void> {
  const t = new Date(now);
  await utimes(join(dir, COMPLETE), t, t).catch(() => undefined);
}

/** Removes least recently used copies under `root` beyond `keep`, and dead temporary downloads; returns the removed folders. */
export async function pruneModelDirs(root: string, opts: PruneOptions): Promise<string[]> {
  if (!existsSync(root)) return [];
  const now = opts.now ?? Date.now();
  const copies: Array<{ dir: string; usedAt: number }> = [];
  const removed: string[] = [];
  for (const name of await readdir(root)) {
    const dir = join(root, name);
    const tmp = /\.tmp-(\d+)-\d+$/.exec(name);
    if (tmp) {
      if (!processAlive(Number(tmp[1]))) {
        await rm(dir, { recursive: true, force: true });
        removed.push(dir);
      }
      continue;
    }
    const marker = await stat(join(dir, COMPLETE)).catch(() => null);
    if (marker) copies.push({ dir, usedAt: marker.mtimeMs });
  }
  copies.sort((a, b) => b.usedAt - a.usedAt);
  for (const c of copies.slice(Math.max(1, opts.keep))) {
    if (opts.inUse.has(c.dir) || now - c.usedAt < opts.graceMs) continue;
    // The marker goes first: a reader that sees no marker downloads again instead of using a half-deleted copy.
    await rm(join(c.dir, COMPLETE), { recursive: true, force: true });
    await rm(c.dir, { recursive: true, force: true });
    removed.push(c.dir);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
