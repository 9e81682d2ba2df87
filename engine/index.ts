// The engine: implements engine/api.ts. Every model lives in its own worker thread (engine/runtime), so the
// caller's event loop (Temporal heartbeats and polling) stays responsive while ONNX Runtime computes.

import type {
  Engine,
  EngineOptions,
  GenerateOptions,
  Generation,
  InitModelOptions,
  PolicyModel,
  Prompt,
  RewardModel,
  RunControl,
  ScoreItem,
  TrainCommon,
} from './api';
import { EngineWorker } from './runtime/host';
import { checkDevice } from './generate/inference-model';
import { loadTokenizer } from './tokenizer/tokenizer';
import { EngineInputError } from './errors';

export * from './api';
export { EngineInputError, EngineAbortError, isEngineInputError } from './errors';

const MODEL_WORKER = new URL('./runtime/model-worker.ts', import.meta.url);

function checkOptions(opts: EngineOptions | undefined): EngineOptions {
  const o = opts ?? {};
  if (o.device !== undefined && !['cpu', 'cuda', 'webgpu'].includes(o.device)) {
    throw new EngineInputError(`engine options: device must be 'cpu', 'cuda' or 'webgpu', got ${JSON.stringify(o.device)}`);
  }
  checkDevice(o.device ?? 'cpu');
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 1)) {
    throw new EngineInputError(`engine options: threads must be a positive integer, got ${o.threads}`);
  }
  return o;
}

/** Starts a worker and loads a model into it; the worker is terminated if loading fails. */
async function loadInWorker(
  method: 'loadPolicy' | 'loadRewardModel',
  dir: string,
  opts: EngineOptions,
): Promise<{ worker: EngineWorker; handle: number; maxLength: number }> {
  const worker = EngineWorker.start(MODEL_WORKER, { name: `engine:${method}` });
  try {
    const r = await worker.call<{ handle: number; maxLength: number }>(method, [dir, opts]);
    return { worker, ...r };
  } catch (e) {
    await worker.terminate();
    throw e;
  }
}

class RemotePolicy implements PolicyModel {
  private readonly tokenizer;
  constructor(
    readonly dir: string,
    readonly maxLength: number,
    private readonly worker: EngineWorker,
    private readonly handle: number,
  ) {
    this.tokenizer = loadTokenizer(dir);
  }
  generate(prompts: Prompt[], opts: GenerateOptions): Promise<Generation[]> {
    return this.worker.call('generate', [this.handle, prompts, opts]);
  }
  logProbs(items: ScoreItem[], opts: RunControl & { batchSize?: number } = {}): Promise<number[]> {
    return this.worker.call('logProbs', [this.handle, items, opts]);
  }
  promptLength(prompt: Prompt): number {
    return this.tokenizer.renderPrompt(prompt).length;
  }
  async release(): Promise<void> {
    await this.worker.terminate();
  }
}

class RemoteRewardModel implements RewardModel {
  constructor(
    readonly dir: string,
    private readonly worker: EngineWorker,
    private readonly handle: number,
  ) {}
  score(items: ScoreItem[], opts: RunControl & { batchSize?: number } = {}): Promise<number[]> {
    return this.worker.call('score', [this.handle, items, opts]);
  }
  async release(): Promise<void> {
    await this.worker.terminate();
  }
}

export const engine: Engine = {
  /** Random init (seconds of CPU for larger models) runs in a worker thread too. */
  async initModel(opts: InitModelOptions): Promise<void> {
    const worker = EngineWorker.start(MODEL_WORKER, { name: 'engine:initModel' });
    try {
      await worker.call('initModel', [opts]);
    } finally {
      await worker.terminate();
    }
  },

  async loadPolicy(dir: string, opts?: EngineOptions): Promise<PolicyModel> {
    const o = checkOptions(opts);
    const { worker, handle, maxLength } = await loadInWorker('loadPolicy', dir, o);
    try {
      return new RemotePolicy(dir, maxLength, worker, handle);
    } catch (e) {
      await worker.terminate();
      throw e;
    }
  },

  async loadRewardModel(dir: string, opts?: EngineOptions): Promise<RewardModel> {
    const o = checkOptions(opts);
    const { worker, handle } = await loadInWorker('loadRewardModel', dir, o);
    return new RemoteRewardModel(dir, worker, handle);
  },

  trainSft: (opts) => runTraining('trainSft', opts),
  trainRewardModel: (opts) => runTraining('trainRewardModel', opts),
  trainDpo: (opts) => runTraining('trainDpo', opts),
};

/** Runs one training call in a fresh worker thread (terminated afterwards, releasing its memory). */
async function runTraining<R>(method: 'trainSft' | 'trainRewardModel' | 'trainDpo', opts: TrainCommon): Promise<R> {
  if (opts.engine) checkOptions(opts.engine);
  const worker = EngineWorker.start(MODEL_WORKER, { name: `engine:${method}` });
  try {
    // With checkpoint.onAbort (default) an abort settles after the worker saved and reported its checkpoint.
    return await worker.call<R>(method, [opts], { settleOnAbort: opts.checkpoint.onAbort ?? true });
  } finally {
    await worker.terminate();
  }
}

export default engine;
