// Engine benchmark: generation tokens/s (batch 1 and 16, 128 new tokens) and the DPO training step time
// (8 pairs × 128 tokens) for a small Llama with the byte vocabulary, plus peak RSS; the same workloads in
// PyTorch + transformers (bench/engine_torch.py) where a Python with torch is available, and the ratios.
//
//   npx tsx bench/engine.ts [--threads 1] [--new-tokens 128] [--no-torch] [--only b1,b16,dpo] [--dpo-pairs 15] [--json out.json]
//
// --only (BENCH_ONLY for `npm run bench -- engine`) runs a subset on both sides, to iterate on one figure.
//
// This machine's single-core speed drifts in phases of seconds (a 1024³ MKL product: 93–151 GFLOP/s within a
// minute), so figures taken one after the other compare phases, not programs. With PyTorch present the runs are
// interleaved: a PyTorch process keeps the model loaded and runs one generate call or DPO step per request,
// alternating with the engine's in ABBA order; each ratio is the median over those pairs (7 generate pairs per
// batch size; --dpo-pairs / BENCH_DPO_PAIRS DPO pairs, default 15).
//
// Goals (reported, not asserted): generation ≥ 1.5× HF generate; DPO step ≤ 0.8× PyTorch eager.

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { engine } from '../engine/index';
import type { BenchContext } from './run';
import { loadHfModel } from '../engine/hf/checkpoint';
import { adamWStep, createAdamWState } from '../engine/optim/adamw';
import { clipCoefficient, globalGradNorm } from '../engine/optim/clip';
import { tokenizePairRows } from '../engine/train/data';
import { type DpoItem, dpoObjective } from '../engine/train/objectives';
import { loadTokenizer } from '../engine/tokenizer/tokenizer';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

export interface EngineBenchOptions {
  threads?: number;
  newTokens?: number;
  /** Run bench/engine_torch.py when a Python with torch + transformers is found. Default true. */
  torch?: boolean;
  python?: string;
  log?: (line: string) => void;
  /** Subset of 'b1', 'b16', 'dpo' (default: all). */
  only?: string[];
  /** Interleaved engine/torch DPO step pairs after the warm-up (default DPO_PAIRS, 15). */
  dpoPairs?: number;
}

const PARTS = ['b1', 'b16', 'dpo'] as const;

function parseOnly(spec: string | undefined): string[] | undefined {
  if (!spec) return undefined;
  const parts = spec.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of parts) {
    if (!(PARTS as readonly string[]).includes(p)) throw new Error(`bench engine: --only / BENCH_ONLY part "${p}" is not one of ${PARTS.join(', ')}`);
  }
  return parts;
}

export const BENCH_MODEL = {
  architecture: 'LlamaForCausalLM' as const,
  // ~9.7M parameters (the "~10M-parameter model"): GQA with 6 heads / 2 KV heads of dim 64.
  hidden_size: 384,
  intermediate_size: 1024,
  num_hidden_layers: 6,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  tokenizer: 'byte' as const,
  seed: 1,
};

function paramCount(): number {
  const m = BENCH_MODEL;
  const V = 262; // byte tokenizer: 256 bytes + 6 specials
  const hd = m.hidden_size / m.num_attention_heads;
  const perLayer =
    2 * m.hidden_size + // norms
    m.hidden_size * m.hidden_size * 2 + // q, o
    2 * m.hidden_size * m.num_key_value_heads * hd + // k, v
    3 * m.hidden_size * m.intermediate_size;
  return V * m.hidden_size * 2 + m.num_hidden_layers * perLayer + m.hidden_size;
}

/** A prompt of 16 byte tokens with bos (as the torch script's 16 random ids). */
function prompt(i: number): string {
  return `bench prompt ${String(i).padStart(2, '0')}`.slice(0, 15);
}

/** Timed generate calls per side after one warm-up each: best of GEN_RUNS alone, or GEN_PAIRS interleaved pairs. */
const GEN_RUNS = 2;
const GEN_PAIRS = 7;

interface GenerationResult {
  batch: number;
  new_tokens: number;
  /** Best engine run. */
  seconds: number;
  tokens_per_s: number;
  /** Interleaved with PyTorch: the median engine run, PyTorch's median, and engine/PyTorch tokens/s per pair. */
  median_tokens_per_s?: number;
  torch?: { batch: number; new_tokens: number; seconds: number; tokens_per_s: number; interleaved: true };
  pairs?: PairStats;
}

/** Engine generation at one batch size, alone or in ABBA pairs with PyTorch's (server). */
async function generationRun(dir: string, batch: number, newTokens: number, threads: number, server: TorchServer | null): Promise<GenerationResult> {
  const policy = await engine.loadPolicy(dir, { threads });
  try {
    const prompts = Array.from({ length: batch }, (_, i) => prompt(i));
    const opts = { n: 1, temperatures: [1], maxNewTokens: newTokens, seed: 'bench', stopTokenIds: [], batchSize: batch };
    const once = async (): Promise<{ seconds: number; tokens: number }> => {
      const t0 = performance.now();
      const g = await policy.generate(prompts, opts);
      return { seconds: (performance.now() - t0) / 1000, tokens: g.reduce((a, x) => a + x.tokenCounts.reduce((s, c) => s + c, 0), 0) };
    };
    await once(); // warm-up
    let engineRuns: { seconds: number; tokens: number }[] = [];
    let torchRuns: { seconds: number; tokens: number }[] = [];
    if (server) {
      await server.generate(batch); // PyTorch's set-up and warm-up
      const pairs = await abbaPairs(GEN_PAIRS, once, () => server.generate(batch));
      engineRuns = pairs.map(([e]) => e);
      torchRuns = pairs.map(([, t]) => t);
    } else {
      for (let r = 0; r < GEN_RUNS; r++) engineRuns.push(await once());
    }
    const rate = (r: { seconds: number; tokens: number }): number => r.tokens / r.seconds;
    const best = engineRuns.reduce((a, r) => (r.seconds < a.seconds ? r : a));
    const out: GenerationResult = { batch, new_tokens: newTokens, seconds: best.seconds, tokens_per_s: rate(best) };
    if (!server) return out;
    return {
      ...out,
      median_tokens_per_s: median(engineRuns.map(rate)),
      torch: { batch, new_tokens: newTokens, seconds: median(torchRuns.map((r) => r.seconds)), tokens_per_s: median(torchRuns.map(rate)), interleaved: true },
      pairs: pairStats(engineRuns.map((e, k) => rate(e) / rate(torchRuns[k]!))),
    };
  } finally {
    await policy.release();
  }
}

function findPython(explicit?: string): string | null {
  const candidates = [explicit, process.env.BENCH_PYTHON, join(ROOT, 'scripts/parity/.venv/bin/python'), 'python3'].filter(
    (p): p is string => !!p,
  );
  for (const p of candidates) {
    if (p !== 'python3' && !existsSync(p)) continue;
    const r = spawnSync(p, ['-c', 'import torch, transformers'], { stdio: 'ignore' });
    if (r.status === 0) return p;
  }
  return null;
}

export async function runEngineBench(o: EngineBenchOptions = {}): Promise<Record<string, unknown>> {
  const threads = o.threads ?? 1;
  const newTokens = o.newTokens ?? 128;
  const log = o.log ?? ((l: string) => console.error(l));
  const root = mkdtempSync(join(tmpdir(), 'bench-engine-'));
  const dir = join(root, 'policy');
  try {
    await engine.initModel({ dir, ...BENCH_MODEL });
    const result: Record<string, unknown> = {
      suite: 'engine',
      device: 'cpu',
      threads,
      model: { ...BENCH_MODEL, params: paramCount(), vocab: 262 },
      // Other processes skew timings: the 1-minute load average when the suite started (cores: os.cpus()).
      load_average_1m: loadavg()[0],
      cpus: cpus().length,
    };
    const only = new Set(o.only ?? PARTS);
    const py = o.torch === false ? null : findPython(o.python);
    if (o.torch !== false && !py) log('torch baseline skipped: no Python with torch + transformers (set BENCH_PYTHON)');
    else if (py) log(`torch baseline with ${py}`);
    // With PyTorch present, one PyTorch process serves both workloads and each figure is taken in ABBA pairs with
    // the engine's (the machine's speed drifts: figures taken one after the other compare its phases).
    const server = py ? await TorchServer.start(py, dir, threads, newTokens, log) : null;
    const torch: { torch?: string; threads?: number; generation: NonNullable<GenerationResult['torch']>[]; dpo?: NonNullable<DpoStepResult['torch']> } = { generation: [] };
    const ratios: Record<string, number> = {};
    try {
      const generation: GenerationResult[] = [];
      for (const b of [1, 16].filter((x) => only.has(`b${x}`))) {
        const g = await generationRun(dir, b, newTokens, threads, server);
        generation.push(g);
        log(`engine generate batch ${b}: ${g.tokens_per_s.toFixed(1)} tokens/s best (${g.seconds.toFixed(2)} s)`);
        if (g.torch && g.pairs) {
          Object.assign(torch, { torch: server?.version, threads });
          torch.generation.push(g.torch);
          ratios[`generation_b${b}_speedup_vs_hf`] = g.pairs.median;
          log(
            `torch generate batch ${b}: ${g.torch.tokens_per_s.toFixed(1)} tokens/s (median); engine/torch tokens/s ${g.pairs.median.toFixed(2)} (median of ${g.pairs.ratios.length} interleaved pairs; quartiles ${g.pairs.q1.toFixed(2)}–${g.pairs.q3.toFixed(2)})`,
          );
        }
      }
      result['generation'] = generation;
      if (only.has('dpo')) {
        const dpo = await dpoStep(dir, threads, log, server, o.dpoPairs ?? DPO_PAIRS);
        result['dpo'] = dpo.engine;
        if (dpo.torch && dpo.pairs) {
          Object.assign(torch, { torch: server?.version, threads });
          torch.dpo = dpo.torch;
          ratios['dpo_step_time_vs_torch'] = dpo.pairs.median;
          result['dpo_pairs'] = dpo.pairs;
          log(
            `torch DPO step: ${dpo.torch.step_seconds.toFixed(2)} s; engine/torch ${dpo.pairs.median.toFixed(3)} (median of ${dpo.pairs.ratios.length} interleaved pairs; quartiles ${dpo.pairs.q1.toFixed(3)}–${dpo.pairs.q3.toFixed(3)})`,
          );
        }
      }
    } finally {
      await server?.close();
    }
    result['peak_rss_mb'] = Math.round(process.resourceUsage().maxRSS / 1024);
    // The 1-minute load average at the end, beside the one at the start.
    result['load_average_1m_end'] = loadavg()[0];
    if (py) {
      result['torch'] = torch;
      result['ratios'] = ratios;
    }
    return result;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** DPO steps before timing on each side (the first one includes the session build). */
const DPO_WARMUP_STEPS = 3;
/** Timed engine steps when no PyTorch is there to interleave with (median reported). */
const DPO_TIMED_STEPS = 5;
/** Interleaved engine/PyTorch DPO step pairs (default of --dpo-pairs / BENCH_DPO_PAIRS). */
const DPO_PAIRS = 15;

/**
 * A PyTorch process (bench/engine_torch.py --serve) with the bench model loaded: one timed generate call or DPO
 * step per request, timed by PyTorch's side itself (perf_counter), so that runs can alternate with the engine's.
 */
class TorchServer {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly version: string,
    private readonly stderr: () => string,
  ) {}

  static async start(py: string, dir: string, threads: number, newTokens: number, log: (l: string) => void): Promise<TorchServer | null> {
    const args = [join(ROOT, 'bench/engine_torch.py'), '--model-dir', dir, '--threads', String(threads), '--new-tokens', String(newTokens), '--serve'];
    const child = spawn(py, args, { stdio: 'pipe' });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    const ready = first.done ? null : (JSON.parse(first.value) as Record<string, unknown>);
    if (ready?.['ready'] !== true) {
      log(`torch baseline failed: the PyTorch process did not start: ${err.slice(-2000)}`);
      child.kill();
      return null;
    }
    return new TorchServer(child, lines, String(ready['torch']), () => err);
  }

  private async request(command: string): Promise<{ seconds: number } & Record<string, unknown>> {
    this.child.stdin.write(`${command}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`the PyTorch process ended: ${this.stderr().slice(-2000)}`);
    const r = JSON.parse(next.value) as Record<string, unknown>;
    if (typeof r['seconds'] !== 'number') throw new Error(`PyTorch ${command}: ${JSON.stringify(r)}`);
    return r as { seconds: number } & Record<string, unknown>;
  }

  /** One HF generate call at this batch size (set up and warmed up on first use): seconds and tokens generated. */
  async generate(batch: number): Promise<{ seconds: number; tokens: number }> {
    const r = await this.request(`gen ${batch}`);
    return { seconds: r.seconds, tokens: Number(r['tokens']) };
  }

  /** One DPO step (set up on first use): seconds. */
  async dpoStep(): Promise<number> {
    return (await this.request('dpo')).seconds;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end('quit\n');
    await exited;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
};

/** `n` pairs of one run of `a` and one of `b`, in ABBA order: a drift within a pair favours each side equally often. */
async function abbaPairs<A, B>(n: number, a: () => Promise<A>, b: () => Promise<B>): Promise<Array<[A, B]>> {
  const out: Array<[A, B]> = [];
  for (let k = 0; k < n; k++) {
    if (k % 2 === 0) {
      const x = await a();
      out.push([x, await b()]);
    } else {
      const y = await b();
      out.push([await a(), y]);
    }
  }
  return out;
}

/** engine/torch of each interleaved pair, their median and quartiles. */
interface PairStats {
  ratios: number[];
  median: number;
  q1: number;
  q3: number;
  order: 'ABBA';
}

function pairStats(ratios: number[]): PairStats {
  return { ratios: ratios.map((r) => Math.round(r * 1000) / 1000), median: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75), order: 'ABBA' };
}

interface DpoStepResult {
  engine: { step_seconds: number } & Record<string, unknown>;
  torch?: { step_seconds: number; step_seconds_min: number; interleaved: true };
  pairs?: PairStats;
}

/**
 * One DPO optimizer step as the trainer takes it (engine/train): policy forward + backward of 8 pairs whose
 * chosen and rejected sequences are 128 tokens (32 prompt + 96 response), reference log-probs precomputed (as
 * trainDpo does once per run), gradient clipping, AdamW. Runs on this thread (no worker) to time the step itself.
 * With a PyTorch server, `pairs` engine and PyTorch steps alternate (ABBA) after both sides warmed up.
 */
async function dpoStep(dir: string, threads: number, log: (l: string) => void, server: TorchServer | null, pairs: number): Promise<DpoStepResult> {
  const model = loadHfModel(dir);
  const tok = loadTokenizer(dir);
  const text = (i: number, len: number) => Array.from({ length: len }, (_, k) => String.fromCharCode(97 + ((i * 7 + k * 3) % 26))).join('');
  const rows = Array.from({ length: 8 }, (_, i) => ({ prompt: text(i, 31), chosen: text(i + 1, 95), rejected: text(i + 2, 95) }));
  const { examples } = tokenizePairRows(tok, rows, { maxLength: 128, maxPromptLength: 32 }, 'dpo');
  const lengths = new Set(examples.flatMap((e) => [e.chosen.promptIds.length + e.chosen.responseIds.length, e.rejected.promptIds.length + e.rejected.responseIds.length]));
  const items: DpoItem[] = examples.map((pair) => ({ pair, refChosen: -300, refRejected: -300 }));
  const objective = dpoObjective(model.config, { beta: 0.1, labelSmoothing: 0, rpoAlpha: 0, lossType: 'sigmoid' }, { threads });
  const state = createAdamWState(model.weights);
  const step = async () => {
    const r = await objective.run(model.weights, items);
    // Clipping at 1.0, applied by AdamW, as engine/train/loop does for a step of one micro-batch.
    const norm = r.gradSquaredNorm !== undefined ? Math.sqrt(r.gradSquaredNorm) : globalGradNorm(r.grads.values());
    adamWStep(model.weights, r.grads, state, 5e-7, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, clipCoefficient(norm, 1.0));
    return r.loss;
  };
  const timedEngine = async (): Promise<number> => {
    const t = performance.now();
    await step();
    return (performance.now() - t) / 1000;
  };
  try {
    const t0 = performance.now();
    await step(); // session creation + first run
    const first = (performance.now() - t0) / 1000;
    // ORT's memory arena and allocation plan settle over the first runs: time the steady state, as the torch
    // side does (the same DPO_WARMUP_STEPS warm-up steps there).
    for (let k = 1; k < DPO_WARMUP_STEPS; k++) await step();
    let engineTimes: number[] = [];
    let torchTimes: number[] = [];
    if (server) {
      for (let k = 0; k < DPO_WARMUP_STEPS; k++) await server.dpoStep();
      const timed = await abbaPairs(pairs, timedEngine, () => server.dpoStep());
      engineTimes = timed.map(([e]) => e);
      torchTimes = timed.map(([, t]) => t);
    } else {
      for (let k = 0; k < DPO_TIMED_STEPS; k++) engineTimes.push(await timedEngine());
    }
    const engine = {
      pairs: 8,
      seq: [...lengths],
      warmup_steps: DPO_WARMUP_STEPS,
      step_seconds: median(engineTimes),
      step_seconds_min: Math.min(...engineTimes),
      first_step_seconds: first,
    };
    log(`engine DPO step (8 pairs × 128 tokens): ${engine.step_seconds.toFixed(2)} s (first, incl. session build: ${first.toFixed(2)} s)`);
    if (!server) return { engine };
    return {
      engine,
      torch: { step_seconds: median(torchTimes), step_seconds_min: Math.min(...torchTimes), interleaved: true },
      pairs: pairStats(engineTimes.map((e, k) => e / torchTimes[k]!)),
    };
  } finally {
    await objective.release();
  }
}

/** bench/run.ts entry: `npm run bench -- engine` (BENCH_THREADS, BENCH_NEW_TOKENS, BENCH_TORCH=0 override). */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const { suite: _suite, ...rest } = await runEngineBench({
    threads: Number(process.env.BENCH_THREADS ?? 1),
    newTokens: Number(process.env.BENCH_NEW_TOKENS ?? 128),
    torch: process.env.BENCH_TORCH !== '0',
    log: ctx.log,
    only: parseOnly(process.env.BENCH_ONLY),
    ...(process.env.BENCH_DPO_PAIRS ? { dpoPairs: Number(process.env.BENCH_DPO_PAIRS) } : {}),
  });
  return rest;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await runEngineBench({
    threads: Number(arg('--threads') ?? 1),
    newTokens: Number(arg('--new-tokens') ?? 128),
    torch: !process.argv.includes('--no-torch'),
    only: parseOnly(arg('--only')),
    ...(arg('--dpo-pairs') ? { dpoPairs: Number(arg('--dpo-pairs')) } : {}),
  });
  const json = JSON.stringify(out, null, 2);
  const file = arg('--json');
  if (file) writeFileSync(file, json);
  console.log(json);
}
