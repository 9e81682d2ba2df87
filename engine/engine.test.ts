// The public engine API end to end: models in worker threads, errors across the boundary, responsiveness.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineInputError, engine } from './index';

const root = mkdtempSync(join(tmpdir(), 'engine-api-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const base = {
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  hidden_size: 32,
  max_position_embeddings: 128,
  tokenizer: 'byte' as const,
};

describe('engine (public API)', () => {
  it('initModel → loadPolicy → generate / logProbs / promptLength; reward model from the policy', async () => {
    const policyDir = join(root, 'policy');
    const rmDir = join(root, 'rm');
    await engine.initModel({ ...base, dir: policyDir, architecture: 'LlamaForCausalLM', seed: 1 });
    await engine.initModel({ ...base, dir: rmDir, architecture: 'LlamaForSequenceClassification', seed: 2, initFrom: policyDir });
    const policy = await engine.loadPolicy(policyDir);
    const rm = await engine.loadRewardModel(rmDir);
    try {
      expect(policy.maxLength).toBe(128);
      expect(policy.promptLength('abc')).toBe(4); // bos + 3 bytes
      const progress: number[] = [];
      const gens = await policy.generate(['Hello', [{ role: 'user', content: 'Hi' }]], {
        n: 2,
        temperatures: [1],
        maxNewTokens: 8,
        seed: 'api',
        onProgress: (p) => progress.push(p.done),
      });
      expect(gens).toHaveLength(2);
      expect(gens[0]!.responses).toHaveLength(2);
      expect(progress.at(-1)).toBe(2);
      const items = gens.flatMap((g, i) => g.responses.map((response) => ({ prompt: i === 0 ? 'Hello' : [{ role: 'user', content: 'Hi' }], response })));
      const lps = await policy.logProbs(items);
      expect(lps).toHaveLength(4);
      for (const x of lps) expect(x).toBeLessThan(0);
      const rewards = await rm.score(items, { batchSize: 3 });
      expect(rewards).toHaveLength(4);
      for (const r of rewards) expect(Number.isFinite(r)).toBe(true);
    } finally {
      await policy.release();
      await rm.release();
    }
  });

  it('bad input rejects with EngineInputError (across the worker boundary), naming what is wrong', async () => {
    const policyDir = join(root, 'policy-err');
    await engine.initModel({ ...base, dir: policyDir, architecture: 'LlamaForCausalLM', seed: 3 });
    const missing = await engine.loadPolicy(join(root, 'nope')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EngineInputError);
    expect((missing as Error).message).toContain(join(root, 'nope'));
    await expect(engine.loadRewardModel(policyDir)).rejects.toThrow(/expected LlamaForSequenceClassification/);
    await expect(engine.loadPolicy(policyDir, { device: 'tpu' as never })).rejects.toThrow(EngineInputError);
    const policy = await engine.loadPolicy(policyDir);
    try {
      const e = await policy.generate(['short', 'x'.repeat(300)], { n: 1, temperatures: [1], maxNewTokens: 4, seed: 's' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(EngineInputError);
      expect((e as Error).name).toBe('EngineInputError');
      expect((e as Error).message).toMatch(/prompt 1 has 301 tokens/);
    } finally {
      await policy.release();
    }
  });

  it('trains in a worker thread: DPO with progress and checkpoint callbacks on the caller thread; resume', async () => {
    const policyDir = join(root, 'dpo-policy');
    await engine.initModel({ ...base, dir: policyDir, architecture: 'LlamaForCausalLM', seed: 5 });
    const rows = Array.from({ length: 8 }, (_, i) => ({ prompt: `q${i}`, chosen: `good ${i}`, rejected: `bad answer ${i}` }));
    const hyper = {
      learningRate: 1e-3, epochs: 1, batchSize: 2, gradientAccumulation: 1, warmupRatio: 0, schedule: 'constant' as const,
      weightDecay: 0, adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, maxGradNorm: 1, maxLength: 64, maxPromptLength: 16,
      seed: 'dpo', beta: 0.1, labelSmoothing: 0, rpoAlpha: 0, lossType: 'sigmoid' as const,
    };
    const checkpoints: number[] = [];
    const paths = new Map<number, string>();
    const progress: number[] = [];
    const res = await engine.trainDpo({
      modelDir: policyDir,
      referenceDir: policyDir,
      rows,
      hyper,
      outDir: join(root, 'dpo-out'),
      checkpoint: {
        dir: join(root, 'dpo-ckpt'),
        everySteps: 2,
        onCheckpoint: async (c) => {
          await new Promise((r) => setTimeout(r, 5));
          checkpoints.push(c.step);
          paths.set(c.step, c.path);
        },
      },
      onProgress: (p) => progress.push(p.done),
    });
    expect(res.steps).toBe(4);
    expect(res.stepsRun).toBe(4);
    expect(checkpoints).toContain(2);
    expect(progress.at(-1)).toBe(4);
    const trained = await engine.loadPolicy(join(root, 'dpo-out'));
    await trained.release();
    // Resume from the step-2 checkpoint: only the remaining steps run, the loss curve ends the same.
    const resumed = await engine.trainDpo({
      modelDir: policyDir,
      referenceDir: policyDir,
      rows,
      hyper,
      outDir: join(root, 'dpo-out-2'),
      checkpoint: { dir: join(root, 'dpo-ckpt-2'), resumeFrom: paths.get(2)! },
    });
    expect(resumed.resumedFromStep).toBe(2);
    expect(resumed.stepsRun).toBe(2);
    expect(resumed.finalLoss).toBeCloseTo(res.finalLoss, 6);
    await expect(engine.trainDpo({ modelDir: policyDir, referenceDir: policyDir, rows, hyper: { ...hyper, beta: -1 }, outDir: join(root, 'x'), checkpoint: { dir: join(root, 'y') } })).rejects.toThrow(EngineInputError);
  });

  it('keeps the event loop responsive during a long single run and a long generation; aborts promptly', async () => {
    const dir = join(root, 'policy-big');
    await engine.initModel({
      dir,
      architecture: 'LlamaForCausalLM',
      hidden_size: 256,
      intermediate_size: 768,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 512,
      tokenizer: 'byte',
      seed: 4,
    });
    const policy = await engine.loadPolicy(dir);
    try {
      // A setInterval that records the longest gap between its ticks.
      const watch = () => {
        let last = performance.now();
        let maxGap = 0;
        const timer = setInterval(() => {
          const now = performance.now();
          maxGap = Math.max(maxGap, now - last);
          last = now;
        }, 5);
        return () => {
          clearInterval(timer);
          return maxGap;
        };
      };
      // One long synchronous ONNX Runtime run (8 sequences × ~450 tokens in a single batch): on the caller's
      // thread it would block the event loop for its whole duration.
      const items = Array.from({ length: 12 }, (_, i) => ({ prompt: 'p'.repeat(200 + i), response: 'r'.repeat(250) }));
      let stop = watch();
      let t0 = performance.now();
      await policy.logProbs(items, { batchSize: 12 });
      let took = performance.now() - t0;
      let maxGap = stop();
      // Generous bound that stays meaningful on a loaded box: a blocked loop would show a gap ≈ took.
      expect(took, `single run took ${took} ms`).toBeGreaterThan(600);
      expect(maxGap, `max gap ${maxGap} ms during a ${took} ms run`).toBeLessThan(Math.min(1000, took / 2));
      // A long generation (many short runs).
      stop = watch();
      t0 = performance.now();
      await policy.generate(['a', 'bb', 'ccc', 'dddd'], { n: 4, temperatures: [1], maxNewTokens: 128, seed: 'long', stopTokenIds: [] });
      took = performance.now() - t0;
      maxGap = stop();
      expect(maxGap, `max gap ${maxGap} ms during a ${took} ms generation`).toBeLessThan(1000);

      const ac = new AbortController();
      const started = performance.now();
      const run = policy.generate(['a', 'bb'], { n: 8, temperatures: [1], maxNewTokens: 400, seed: 'abort', stopTokenIds: [], signal: ac.signal });
      setTimeout(() => ac.abort(), 200);
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      const abortedAfter = performance.now() - started;
      expect(abortedAfter, `rejected ${abortedAfter} ms after start (abort at 200 ms)`).toBeLessThan(2000);
      // The model still serves calls after an abort.
      const again = await policy.generate(['a'], { n: 1, temperatures: [0], maxNewTokens: 4, seed: 's' });
      expect(again[0]!.tokenCounts[0]).toBeGreaterThan(0);
    } finally {
      await policy.release();
    }
  });
});
