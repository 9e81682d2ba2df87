// A Hugging Face model folder loaded for inference: config, tokenizer, weights, and the ONNX Runtime
// sessions built from them on first use (weights baked in as initializers: frozen inference lets ORT
// pre-pack them; built with the single-kernel blocks of engine/model/kernels.ts).
//
// Sessions:
//   decode    — KV-cache decoder: logits of the last position [B,1,V] + this call's K/V rows (present.N.*).
//   logprobs  — full forward with `labels` [B,T]: token_logprobs[b,t] = log p(labels[b,t] | tokens ≤ t).
//   reward    — the score head pooled at the last non-pad token: rewards [B, num_labels].

import * as ort from 'onnxruntime-node';
import type { Device, EngineOptions } from '../api';
import { EngineInputError } from '../errors';
import { type HfModel, loadHfModel } from '../hf/checkpoint';
import type { LlamaConfig } from '../hf/config';
import { buildLlama, buildLlamaGraph, headOf } from '../model/llama';
import { Graph, type OptimizationLevel, createSession } from '../onnx';
import { type EngineTokenizer, loadTokenizer } from '../tokenizer/tokenizer';

export type SessionKind = 'decode' | 'logprobs' | 'reward';

export interface InferenceOptions extends EngineOptions {
  optimization?: OptimizationLevel;
}

/** Throws EngineInputError when the device's execution provider is not in this onnxruntime-node build. */
export function checkDevice(device: Device): void {
  if (device === 'cpu') return;
  const backends = ort.listSupportedBackends();
  if (!backends.some((b) => b.name === device)) {
    throw new EngineInputError(
      `device '${device}' is not supported by this onnxruntime-node build (available: ${backends.map((b) => b.name).join(', ')}); use device 'cpu'`,
    );
  }
}

export class InferenceModel {
  readonly config: LlamaConfig;
  readonly tokenizer: EngineTokenizer;
  private readonly model: HfModel;
  private readonly sessions = new Map<SessionKind, Promise<ort.InferenceSession>>();
  private released = false;

  private constructor(
    readonly dir: string,
    model: HfModel,
    tokenizer: EngineTokenizer,
    readonly options: InferenceOptions,
  ) {
    this.model = model;
    this.config = model.config;
    this.tokenizer = tokenizer;
  }

  /** Loads `dir` (config.json, safetensors, tokenizer). `expect` checks the architecture. */
  static load(dir: string, opts: InferenceOptions & { expect?: 'lm' | 'score' } = {}): InferenceModel {
    checkDevice(opts.device ?? 'cpu');
    if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
      throw new EngineInputError(`engine options: threads must be a positive integer, got ${opts.threads}`);
    }
    const model = loadHfModel(dir);
    const head = headOf(model.config);
    if (opts.expect && opts.expect !== head) {
      const want = opts.expect === 'lm' ? 'LlamaForCausalLM (a policy)' : 'LlamaForSequenceClassification (a reward model)';
      throw new EngineInputError(`${dir}/config.json: architecture is ${model.config.architecture}, expected ${want}`);
    }
    const tokenizer = loadTokenizer(model.tokenizerDir);
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new EngineInputError(
        `${dir}: the tokenizer has ${tokenizer.vocabSize} ids but config.json vocab_size is ${model.config.vocabSize}`,
      );
    }
    return new InferenceModel(dir, model, tokenizer, opts);
  }

  get maxLength(): number {
    return this.config.maxPositionEmbeddings;
  }

  /** The session of a kind, built on first use. */
  session(kind: SessionKind): Promise<ort.InferenceSession> {
    if (this.released) throw new Error(`model ${this.dir} was released`);
    let s = this.sessions.get(kind);
    if (!s) {
      s = this.create(kind);
      this.sessions.set(kind, s);
    }
    return s;
  }

  private async create(kind: SessionKind): Promise<ort.InferenceSession> {
    const bytes = this.graphBytes(kind);
    const device = this.options.device ?? 'cpu';
    try {
      return await createSession(bytes, { device, threads: this.options.threads ?? 1, optimization: this.options.optimization ?? 'all' });
    } catch (e) {
      if (device !== 'cpu') {
        const need =
          device === 'cuda'
            ? 'the CUDA execution provider libraries (libonnxruntime_providers_cuda.so, CUDA 12, cuDNN 9) next to onnxruntime-node'
            : 'a Vulkan loader and a GPU driver for the bundled WebGPU provider';
        throw new EngineInputError(`device '${device}' is not usable on this machine: ${(e as Error).message.trim()}. It needs ${need}; or use device 'cpu'`, {
          cause: e,
        });
      }
      throw e;
    }
  }

  /** The encoded graph of a session kind (exposed for tests and the benchmark). */
  graphBytes(kind: SessionKind): Uint8Array {
    const cfg = this.config;
    const weights = (name: string) => {
      const t = this.model.weights.get(name);
      if (!t) throw new EngineInputError(`${this.dir}: weight ${name} is missing`);
      return t.data;
    };
    if (kind === 'decode') {
      if (headOf(cfg) !== 'lm') throw new EngineInputError(`${this.dir}: generation needs a LlamaForCausalLM model`);
      return buildLlamaGraph(cfg, { weightsAs: 'initializers', weights, inferenceKernels: true, kvCache: { present: 'new' }, logits: 'last' }).graph.toBytes();
    }
    if (kind === 'reward') {
      if (headOf(cfg) !== 'score') throw new EngineInputError(`${this.dir}: scoring needs a LlamaForSequenceClassification model`);
      return buildLlamaGraph(cfg, { weightsAs: 'initializers', weights, inferenceKernels: true }).graph.toBytes();
    }
    const g = new Graph('float32', 'llama-logprobs');
    const m = buildLlama(g, cfg, { weightsAs: 'initializers', weights, inferenceKernels: true, logits: 'all' });
    if (!m.logits) throw new EngineInputError(`${this.dir}: log-probs need a LlamaForCausalLM model`);
    const labels = g.input('labels', 'int64', ['batch', 'seq']);
    const lp = g.gatherElements(g.logSoftmax(m.logits, -1), g.unsqueeze(labels, [-1]), 2);
    g.output('token_logprobs', g.squeeze(lp, [-1]));
    return g.toBytes();
  }

  async release(): Promise<void> {
    this.released = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }
}
