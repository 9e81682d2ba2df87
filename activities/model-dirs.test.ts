import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMPLETE, markUsed, pruneModelDirs } from './model-dirs';

const MIN = 60_000;
let root: string;
const now = Date.UTC(2026, 10, 25, 12);

async function copy(name: string, usedMinutesAgo: number): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, COMPLETE), { recursive: true });
  await writeFile(join(dir, 'model.safetensors'), 'weights');
  await markUsed(dir, now - usedMinutesAgo * MIN);
  return dir;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'model-dirs-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('pruneModelDirs', () => {
  it('removes the least recently used copies beyond keep, oldest first', async () => {
    const dirs = [await copy('a', 300), await copy('b', 200), await copy('c', 100), await copy('d', 90)];
    const removed = await pruneModelDirs(root, { keep: 2, graceMs: 30 * MIN, inUse: new Set(), now });
    expect(removed.sort()).toEqual([dirs[0], dirs[1]]);
    expect(dirs.map((d) => existsSync(d))).toEqual([false, false, true, true]);
  });

  it('keeps copies in use by this process and copies used within the grace period', async () => {
    const inUse = await copy('loaded', 500);
    const recent = await copy('recent', 10);
    const old = await copy('old', 400);
    await copy('newest', 1);
    const removed = await pruneModelDirs(root, { keep: 1, graceMs: 30 * MIN, inUse: new Set([inUse]), now });
    expect(removed).toEqual([old]);
    expect(existsSync(inUse) && existsSync(recent)).toBe(true);
  });

  it('removes temporary downloads of dead processes only, and ignores folders without the marker', async () => {
    const mine = join(root, `k1.tmp-${process.pid}-1`);
    const dead = join(root, 'k2.tmp-999999999-1');
    const partial = join(root, 'k3');
    for (const d of [mine, dead, partial]) await mkdir(d, { recursive: true });
    const removed = await pruneModelDirs(root, { keep: 1, graceMs: 0, inUse: new Set(), now });
    expect(removed).toEqual([dead]);
    expect(existsSync(mine) && existsSync(partial)).toBe(true);
  });

  it('is a no-op on a missing folder', async () => {
    expect(await pruneModelDirs(join(root, 'none'), { keep: 1, graceMs: 0, inUse: new Set(), now })).toEqual([]);
  });
});
