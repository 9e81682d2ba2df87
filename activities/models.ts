// Local copies of committed model folders and loaded models, reused across activity calls of one worker
// process (a shard after shard of the same iteration loads the policy once). A copy is keyed by the
// manifest's bytes, so a re-committed prefix is downloaded again.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineOptions, PolicyModel, RewardModel } from '../engine/api';
import { canonicalJson } from '../shared/store';
import { hashText, keepAlive, type Deps } from './support';
import type { ArtifactRef, EngineSettings } from './types';

interface Loaded<M> {
  key: string;
  model: Promise<M>;
}

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
      pending = (async () => {
        const dir = join(this.deps.scratchDir, 'models', key);
        if (existsSync(join(dir, '.complete'))) return dir;
        const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
        await mkdir(tmp, { recursive: true });
        await keepAlive({ phase: 'download', key: store.uri(prefix) }, store.downloadDir(prefix, tmp));
        await mkdir(join(tmp, '.complete'), { recursive: true });
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
        return dir;
      })();
      this.downloads.set(key, pending);
      pending.catch(() => this.downloads.delete(key));
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
    const entry: Loaded<M> = { key, model: load() };
    entry.model.catch(() => set(list.filter((l) => l !== entry)));
    const next = [entry, ...list];
    for (const old of next.splice(keep)) void old.model.then((m) => m.release()).catch(() => undefined);
    set(next);
    return entry.model;
  }

  /** Releases every loaded model (worker shutdown, tests). */
  async releaseAll(): Promise<void> {
    const all = [...this.policies, ...this.rewardModels];
    this.policies = [];
    this.rewardModels = [];
    await Promise.allSettled(all.map((l) => l.model.then((m) => m.release())));
  }
}

function options(s: EngineSettings): EngineOptions {
  return { device: s.device, threads: s.threads };
}
