// Engine-written checkpoints read back by Hugging Face transformers (scripts/parity/check_checkpoint.py).
//
// `writeRoundtripCheckpoints(dir)` makes, deterministically: a tiny GQA policy with llama3 rope scaling, SFT-
// trained for 3 steps with a resumable checkpoint at step 2 (`policy/step-000002`, the folder checked), and a
// reward model initialised from that checkpoint (`reward`). Run this file to record what transformers
// computes on them into test/fixtures/parity/roundtrip.json (needs scripts/parity/.venv):
//   npx tsx scripts/parity/roundtrip.ts
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage } from '../../engine/api';
import { initRandomModel } from '../../engine/hf/checkpoint';
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { trainSft } from '../../engine/train/index';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ROUNDTRIP_FILE = join(ROOT, 'test', 'fixtures', 'parity', 'roundtrip.json');
export const PARITY_PYTHON = join(ROOT, 'scripts', 'parity', '.venv', 'bin', 'python');
export const CHECK_SCRIPT = join(ROOT, 'scripts', 'parity', 'check_checkpoint.py');

export interface RoundtripInputs {
  rows: number[][];
  messages: ChatMessage[];
}

export interface CheckResult {
  architecture: string;
  config: Record<string, unknown>;
  logits?: number[][][];
  rewards?: number[];
  chat_ids?: number[];
}

export async function writeRoundtripCheckpoints(dir: string): Promise<{ policy: string; reward: string; inputs: RoundtripInputs }> {
  const base = join(dir, 'base');
  initRandomModel({
    dir: base,
    architecture: 'LlamaForCausalLM',
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rope_theta: 500000,
    rope_scaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
    tokenizer: 'byte',
    seed: 11,
    initializer_range: 0.2,
  });
  await trainSft({
    modelDir: base,
    rows: [
      { prompt: [{ role: 'user', content: 'Hi' }], response: 'Hello!' },
      { prompt: 'Two plus two', response: ' is four.' },
    ],
    hyper: {
      learningRate: 1e-2, epochs: 3, batchSize: 2, gradientAccumulation: 1, warmupRatio: 0, schedule: 'constant',
      weightDecay: 0.01, adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, maxGradNorm: 1, maxLength: 32, maxPromptLength: 16, seed: 'roundtrip',
    },
    outDir: join(dir, 'policy-final'),
    checkpoint: { dir: join(dir, 'policy'), everySteps: 2 },
  });
  const policy = join(dir, 'policy', 'step-000002');
  const reward = join(dir, 'reward');
  initRandomModel({
    dir: reward,
    architecture: 'LlamaForSequenceClassification',
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rope_theta: 500000,
    rope_scaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
    tokenizer: 'byte',
    seed: 12,
    initializer_range: 0.2,
    initFrom: policy,
  });
  const tok = loadTokenizer(policy);
  const messages: ChatMessage[] = [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hi there' }];
  const rows = [
    [...tok.renderPrompt([{ role: 'user', content: 'Hi' }]), ...tok.encodeResponse('Hello!')],
    [...tok.renderPrompt('Two plus two'), ...tok.encodeResponse(' is 4')],
  ];
  return { policy, reward, inputs: { rows, messages } };
}

/** Runs check_checkpoint.py on model folders (one Python process; needs the venv). */
export function runCheck(modelDirs: string[], inputs: RoundtripInputs): CheckResult[] {
  const tmp = mkdtempSync(join(tmpdir(), 'rt-in-'));
  try {
    const file = join(tmp, 'inputs.json');
    writeFileSync(file, JSON.stringify(inputs));
    const [first, ...rest] = modelDirs;
    const out = execFileSync(PARITY_PYTHON, [CHECK_SCRIPT, first!, file, ...rest], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = out.trim().split('\n').filter((l) => l.startsWith('{'));
    if (lines.length !== modelDirs.length) throw new Error(`check_checkpoint.py printed ${lines.length} results for ${modelDirs.length} folders`);
    return lines.map((l) => JSON.parse(l) as CheckResult);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!existsSync(PARITY_PYTHON)) throw new Error(`${PARITY_PYTHON} not found: create the venv (see scripts/parity/make_fixtures.py)`);
  const dir = mkdtempSync(join(tmpdir(), 'roundtrip-'));
  try {
    const { policy, reward, inputs } = await writeRoundtripCheckpoints(dir);
    const [p, r] = runCheck([policy, reward], inputs);
    const result = { inputs, policy: p, reward: r };
    writeFileSync(ROUNDTRIP_FILE, JSON.stringify(result));
    console.log(`wrote ${ROUNDTRIP_FILE}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
