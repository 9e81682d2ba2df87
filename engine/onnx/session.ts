// Creating ONNX Runtime sessions for graphs built with engine/onnx/graph, and tensor helpers.

import * as ort from 'onnxruntime-node';
import type { Device } from '../api';
import type { DType } from './graph';

export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Intra-op threads (fixed for reproducibility). Default 1. */
  threads?: number;
  device?: Device;
  /** Default 'all' (fuses Transpose+MatMul), falling back to 'basic' where fusions lack kernels (float64). */
  optimization?: OptimizationLevel;
}

function providers(device: Device): ort.InferenceSession.ExecutionProviderConfig[] {
  switch (device) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return ['cuda', 'cpu'];
    case 'webgpu':
      return ['webgpu', 'cpu'];
  }
}

/**
 * Loads an encoded ModelProto. Sequential execution, fixed thread counts. Without an explicit
 * `optimization`, tries 'all' and falls back to 'basic' when a fused kernel does not exist for the graph's
 * dtype (e.g. com.microsoft.QuickGelu has no float64 kernel).
 */
export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const make = (level: OptimizationLevel): Promise<ort.InferenceSession> =>
    ort.InferenceSession.create(bytes, {
      executionProviders: providers(opts.device ?? 'cpu'),
      graphOptimizationLevel: level,
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableCpuMemArena: true,
      enableMemPattern: true,
    });
  if (opts.optimization) return make(opts.optimization);
  try {
    return await make('all');
  } catch (e) {
    if (/Failed to find kernel|not implemented|type \(tensor\(double\)\)/i.test((e as Error).message)) return make('basic');
    throw e;
  }
}

export type TensorValues = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

/** A tensor of the given dtype from numbers (or a typed array of the right type, used without copying). */
export function tensor(dtype: DType, data: ArrayLike<number> | TensorValues, dims: readonly number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`tensor: ${data.length} values for shape [${dims.join(', ')}]`);
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>), dims);
    case 'float64':
      return new ort.Tensor('float64', data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>), dims);
    case 'int64':
      return new ort.Tensor(
        'int64',
        data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>, (x) => BigInt(x))),
        dims,
      );
    case 'int32':
      return new ort.Tensor('int32', data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>), dims);
    case 'bool':
      return new ort.Tensor('bool', data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>), dims);
    case 'float16':
      return new ort.Tensor('float16', data instanceof Uint16Array ? data : Uint16Array.from(data as ArrayLike<number>), dims);
  }
}

/** The values of a numeric tensor as plain numbers. */
export function toNumbers(t: ort.Tensor): number[] {
  const d = t.data;
  if (d instanceof BigInt64Array) return Array.from(d, Number);
  if (typeof d === 'string' || Array.isArray(d)) throw new Error('toNumbers: string tensor');
  return Array.from(d as ArrayLike<number>);
}

export { ort };
