// Checkpoint on abort (checkpoint.onAbort, default true): an aborted training call saves the last completed
// step — off the everySteps grid — and reports it through onCheckpoint before rejecting; resuming from it is
// bit for bit the uninterrupted run (weights, loss curve, metrics), also when the abort lands in the middle of
// a step's micro-batches. Through the engine's worker thread too (the call settles after the save).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SftRow, TrainHyper, TrainResult } from '../api';
import { engine } from '../index';
import { type Weights, initRandomModel, loadHfModel } from '../hf/checkpoint';
import { trainSft } from './index';
import { runTraining } from './loop';
import type { Objective } from './objective';

const tmp = mkdtempSync(join(tmpdir(), 'e2-abort-ck-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const policyDir = join(tmp, 'policy');
initRandomModel({
  dir: policyDir,
  architecture: 'LlamaForCausalLM',
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  tokenizer: 'byte',
  seed: 7,
});

const rows: SftRow[] = ['red', 'green', 'blue', 'cyan', 'pink', 'gold', 'gray', 'teal'].map((w, i) => ({ prompt: `color ${i}:`, response: ` ${w}` }));

function hyper(over: Partial<TrainHyper> = {}): TrainHyper {
  return {
    learningRate: 3e-3,
    epochs: 3,
    batchSize: 2,
    gradientAccumulation: 2,
    warmupRatio: 0.1,
    schedule: 'cosine',
    weightDecay: 0.01,
    adamBeta1: 0.9,
    adamBeta2: 0.999,
    adamEps: 1e-8,
    maxGradNorm: 1.0,
    maxLength: 32,
    maxPromptLength: 16,
    seed: 'abort-checkpoint',
    ...over,
  };
}

const weightsOf = (dir: string): Buffer => readFileSync(join(dir, 'model.safetensors'));

describe('checkpoint on abort', () => {
  it('saves the step reached (off the checkpoint grid) and resumes from it bit for bit', async () => {
    const h = hyper(); // 8 rows / (2 × 2) per step × 3 epochs = 6 steps
    const straight = await trainSft({ modelDir: policyDir, rows, hyper: h, outDir: join(tmp, 'straight'), checkpoint: { dir: join(tmp, 'straight-ck') } });
    expect(straight.steps).toBe(6);

    for (const k of [1, 3, 5]) {
      const ac = new AbortController();
      const seen: number[] = [];
      const dir = join(tmp, `abort-${k}`);
      await expect(
        trainSft({
          modelDir: policyDir,
          rows,
          hyper: h,
          outDir: join(dir, 'out'),
          checkpoint: { dir: join(dir, 'ck'), everySteps: 4, onCheckpoint: async ({ step }) => void seen.push(step) },
          signal: ac.signal,
          onProgress: (p) => {
            if (p.done === k) ac.abort();
          },
        }),
      ).rejects.toMatchObject({ name: 'AbortError' });
      // Periodic checkpoints before k, then the one of step k, reported before the call rejected.
      expect(seen).toEqual([...(k > 4 ? [4] : []), k]);
      expect(readdirSync(join(dir, 'ck'))).toContain(`step-${String(k).padStart(6, '0')}`);

      const resumed = await trainSft({
        modelDir: policyDir,
        rows,
        hyper: h,
        outDir: join(dir, 'resumed'),
        checkpoint: { dir: join(dir, 'ck2'), resumeFrom: join(dir, 'ck', `step-${String(k).padStart(6, '0')}`) },
      });
      expect(resumed.resumedFromStep).toBe(k);
      expect(resumed.stepsRun).toBe(6 - k);
      expect(resumed.lossCurve).toEqual(straight.lossCurve);
      expect(resumed.metrics).toEqual(straight.metrics);
      expect(weightsOf(join(dir, 'resumed')).equals(weightsOf(join(tmp, 'straight'))), `abort at step ${k}`).toBe(true);
    }
  });

  it('onAbort: false rejects without saving; an abort on a checkpointed step saves nothing twice', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    await expect(
      trainSft({
        modelDir: policyDir,
        rows,
        hyper: hyper(),
        outDir: join(tmp, 'off', 'out'),
        checkpoint: { dir: join(tmp, 'off', 'ck'), everySteps: 2, onAbort: false, onCheckpoint: async ({ step }) => void seen.push(step) },
        signal: ac.signal,
        onProgress: (p) => p.done === 3 && ac.abort(),
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([2]);

    const ac2 = new AbortController();
    const seen2: number[] = [];
    await expect(
      trainSft({
        modelDir: policyDir,
        rows,
        hyper: hyper(),
        outDir: join(tmp, 'grid', 'out'),
        checkpoint: { dir: join(tmp, 'grid', 'ck'), everySteps: 2, onCheckpoint: async ({ step }) => void seen2.push(step) },
        signal: ac2.signal,
        onProgress: (p) => p.done === 4 && ac2.abort(),
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen2).toEqual([2, 4]);
  });

  it('an abort between the micro-batches of a step drops that step: its statistics are rolled back', async () => {
    // A plain-JS objective on the model's weights: loss = mean over items x of Σ_j (w_j − x)² on one tensor.
    const model = loadHfModel(policyDir);
    const name = [...model.weights.keys()].sort()[0] as string;
    let calls = 0;
    let abortAtCall = -1;
    let ac = new AbortController();
    const objective: Objective<number> = {
      units: (items) => items.length,
      run: async (weights: Weights, items: number[]) => {
        calls += 1;
        if (calls === abortAtCall) ac.abort();
        const w = weights.get(name)?.data as Float32Array;
        const g = new Float32Array(w.length);
        let loss = 0;
        for (const x of items) {
          for (let j = 0; j < w.length; j++) {
            const d = w[j]! - x;
            loss += d * d;
            g[j] = g[j]! + (2 * d) / items.length;
          }
        }
        return { loss: loss / items.length, grads: new Map([[name, g]]), sums: { seen: items.reduce((a, b) => a + b, 0) } };
      },
      release: async () => undefined,
    };
    const items = [0.1, -0.2, 0.3, 0.05, -0.4, 0.25, 0.15, -0.1];
    const h = hyper({ batchSize: 1, gradientAccumulation: 2 }); // 2 micro-batches per step, 4 steps per epoch, 12 steps
    const train = (dir: string, extra: { resumeFrom?: string; signal?: AbortSignal; onCheckpoint?: (c: { step: number }) => Promise<void> }): Promise<TrainResult> =>
      runTraining({
        kind: 'sft',
        model: loadHfModel(policyDir),
        items,
        objective,
        hyper: h,
        common: {
          outDir: join(dir, 'out'),
          ...(extra.signal ? { signal: extra.signal } : {}),
          checkpoint: { dir: join(dir, 'ck'), everySteps: 100, ...(extra.resumeFrom ? { resumeFrom: extra.resumeFrom } : {}), ...(extra.onCheckpoint ? { onCheckpoint: extra.onCheckpoint } : {}) },
        },
        fingerprintParts: [items],
      });
    const straight = await train(join(tmp, 'mb-straight'), {});
    expect(straight.steps).toBe(12);

    calls = 0;
    abortAtCall = 2 * 7 + 1; // the first micro-batch of step 8: the abort lands between its two micro-batches
    ac = new AbortController();
    const seen: number[] = [];
    await expect(train(join(tmp, 'mb-abort'), { signal: ac.signal, onCheckpoint: async ({ step }) => void seen.push(step) })).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([7]);
    abortAtCall = -1;
    const resumed = await train(join(tmp, 'mb-resumed'), { resumeFrom: join(tmp, 'mb-abort', 'ck', 'step-000007') });
    expect(resumed.resumedFromStep).toBe(7);
    expect(resumed.lossCurve).toEqual(straight.lossCurve);
    expect(resumed.metrics).toEqual(straight.metrics);
    expect(weightsOf(join(tmp, 'mb-resumed', 'out')).equals(weightsOf(join(tmp, 'mb-straight', 'out')))).toBe(true);
  });

  it('through the engine worker thread: the call settles after the checkpoint was saved and reported', async () => {
    const ac = new AbortController();
    const events: string[] = [];
    const run = engine.trainSft({
      modelDir: policyDir,
      rows,
      hyper: hyper({ epochs: 20 }),
      outDir: join(tmp, 'thread', 'out'),
      checkpoint: {
        dir: join(tmp, 'thread', 'ck'),
        everySteps: 4,
        onCheckpoint: async ({ step, path }) => {
          await new Promise((r) => setTimeout(r, 200)); // an upload
          events.push(`checkpoint ${step} ${readdirSync(path).includes('trainer_state.json')}`);
        },
      },
      signal: ac.signal,
      onProgress: (p) => {
        if (p.done === 2) ac.abort();
      },
    });
    await expect(run.catch((e: Error) => (events.push(`rejected ${e.name}`), Promise.reject(e)))).rejects.toMatchObject({ name: 'AbortError' });
    // The abort reaches the thread a little after step 2 (callbacks and aborts are messages): the checkpoint of
    // the step it stopped at is complete on disk and reported, then the call rejects.
    expect(events.at(-1)).toBe('rejected AbortError');
    const last = /^checkpoint (\d+) true$/.exec(events.at(-2) ?? '');
    expect(last, events.join(', ')).not.toBeNull();
    expect(Number(last?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(last?.[1])).toBeLessThan(40);
  });
});
