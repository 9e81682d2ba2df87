// Local copies of committed model folders and loaded models, reused across activity calls of one worker
// process (a shard after shard of the same iteration loads the policy once). A copy is keyed by the
// manifest's bytes, so a re-committed prefix is downloaded again. The copies on disk are bounded
// (model-dirs.ts): least recently used ones beyond RLHF_MODEL_CACHE_KEEP are removed.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineOptions, PolicyModel, RewardModel } from '../engine/api';
import { canonicalJson } from '../shared/store';
import { COMPLETE, markUsed, pruneModelDirs } from './model-dirs';
import { hashText, keepAlive, type Deps } from './support';
import type { ArtifactRef, EngineSettings } from './types';

interface Loaded<M> {
  key: string;
  model: Promise<M>;
}

/** Copies used this recently are never removed (a load in progress in another process sharing the folder). */
const PRUNE_GRACE_MS = 30 * 60_000;

/** Folders loaded or being downloaded by any ModelCache of this process (the inference and train caches share the folder). */
const inUse = new Map<string, number>();
const hold = (dir: string, delta: 1 | -1): void => {
  const n = (inUse.get(dir) ?? 0) + delta;
  if (n > 0) inUse.set(dir, n);
  else inUse.delete(dir);
};

export class ModelCache {
  private readonly downloads = new Map<string, Promise<string>>();
  private policies: Array<Loaded<PolicyModel>> = [];
  private rewardModels: Array<Loaded<RewardModel>> = [];

  constructor(
    private readonly deps: Deps,
    /** Loaded models kept per kind (policy + reference during evaluation → 2). */
    private readonly keep = { policies: 2, rewardModels: 1 },
  ) {}

  /** A verified local copy of a committed HF-layout folder. */
  async localDir(ref: ArtifactRef, what: string): Promise<string> {
    const { store, prefix, manifest } = await this.deps.requireCommitted(ref, what);
    const key = hashText(`${store.bucket}/${prefix}\n${canonicalJson(manifest)}`).slice(0, 24);
    let pending = this.downloads.get(key);
    if (!pending) {
      const root = join(this.deps.scratchDir, 'models');
      const dir = join(root, key);
      pending = (async () => {
        hold(dir, 1);
        try {
          if (!existsSync(join(dir, COMPLETE))) {
            const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
            await mkdir(tmp, { recursive: true });
            await keepAlive({ phase: 'download', key: store.uri(prefix) }, store.downloadDir(prefix, tmp));
            await mkdir(join(tmp, COMPLETE), { recursive: true });
            await rm(dir, { recursive: true, force: true });
            await rename(tmp, dir);
          }
          await markUsed(dir);
          await pruneModelDirs(root, { keep: this.deps.raw.config.worker.modelCacheKeep, graceMs: PRUNE_GRACE_MS, inUse: new Set(inUse.keys()) });
          return dir;
        } finally {
          hold(dir, -1);
        }
      })();
      // Concurrent callers share one download; a later call checks the disk again (the copy may have been pruned).
      this.downloads.set(key, pending);
      void pending.finally(() => this.downloads.delete(key)).catch(() => undefined);
    }
    return pending;
  }

  async policy(ref: ArtifactRef, settings: EngineSettings): Promise<PolicyModel> {
    const dir = await this.localDir(ref, 'policy');
    const engine = await this.deps.engine();
    return this.get(this.policies, `${dir}|${settings.device}|${settings.threads}`, this.keep.policies, () => engine.loadPolicy(dir, options(settings)), (l) => (this.policies = l));
  }

  async rewardModel(ref: ArtifactRef, settings: EngineSettings): Promise<RewardModel> {
    const dir = await this.localDir(ref, 'reward model');
    const engine = await this.deps.engine();
    return this.get(
      this.rewardModels,
      `${dir}|${settings.device}|${settings.threads}`,
      this.keep.rewardModels,
      () => engine.loadRewardModel(dir, options(settings)),
      (l) => (this.rewardModels = l),
    );
  }

  private async get<M extends { release(): Promise<void> }>(
    list: Array<Loaded<M>>,
    key: string,
    keep: number,
    load: () => Promise<M>,
    set: (l: Array<Loaded<M>>) => void,
  ): Promise<M> {
    const hit = list.find((l) => l.key === key);
    if (hit) {
      set([hit, ...list.filter((l) => l !== hit)]);
      return hit.model;
    }
    const dir = key.split('|')[0] ?? key;
    hold(dir, 1);
    const entry: Loaded<M> = { key, model: load() };
    entry.model.catch(() => {
      hold(dir, -1);
      set(list.filter((l) => l !== entry));
    });
    const next = [entry, ...list];
    for (const old of next.splice(keep)) void releaseLoaded(old);
    set(next);
    return entry.model;
  }

  /** Releases every loaded model (worker shutdown, tests). */
  async releaseAll(): Promise<void> {
    const all = [...this.policies, ...this.rewardModels];
    this.policies = [];
    this.rewardModels = [];
    await Promise.allSettled(all.map((l: Loaded<{ release(): Promise<void> }>) => releaseLoaded(l)));
  }
}

async function releaseLoaded<M extends { release(): Promise<void> }>(l: Loaded<M>): Promise<void> {
  const m = await l.model.catch(() => undefined);
  if (!m) return; // a failed load already let go of its folder
  hold(l.key.split('|')[0] ?? l.key, -1);
  await m.release().catch(() => undefined);
}

function options(s: EngineSettings): EngineOptions {
  return { device: s.device, threads: s.threads };
}
