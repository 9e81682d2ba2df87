// A small typed builder for ONNX graphs (standard domain, opset 18), encoded with `onnx-proto`.
//
// Every op helper infers its output dtype and a static shape whose dims are numbers or symbolic names
// ('B', 'T'…). The shapes are what the reverse pass (engine/autodiff) uses to find broadcast axes; at run
// time ONNX Runtime works with the real shapes. Nodes are recorded in creation order (a valid topological
// order), which is the tape the reverse pass walks backwards.

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'bool';
export type FloatDType = 'float32' | 'float64';
/** A dimension: a fixed size, or a symbolic name (equal names are equal sizes). */
export type Dim = number | string;
export type Shape = Dim[];

export const OPSET = 18;
export const IR_VERSION = 8;

const DATA_TYPE: Record<DType, number> = {
  float32: 1,
  float64: 11,
  float16: 10,
  int64: 7,
  int32: 6,
  bool: 9,
};

/** Attribute values. Plain numbers are INT, number[] INTS; wrap floats as {f}, {floats}. */
export type Attr =
  | number
  | number[]
  | string
  | { f: number }
  | { floats: number[] }
  | { tensor: { dtype: DType; dims: number[]; data: ArrayLike<number> | BigInt64Array } };

export type Attrs = Record<string, Attr | undefined>;

export class Value {
  /** @internal renamed by Graph.output */
  name: string;
  constructor(
    readonly graph: Graph,
    name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    /** The node that computes it; null for graph inputs and initializers. */
    readonly producer: Node | null,
  ) {
    this.name = name;
  }
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}[${this.shape.join(', ')}]`;
  }
}

export interface Node {
  readonly opType: string;
  readonly domain: string;
  /** null: an omitted optional input. */
  readonly inputs: (Value | null)[];
  readonly outputs: Value[];
  readonly attrs: Attrs;
  /** Index in the tape. */
  readonly index: number;
}

interface Initializer {
  value: Value;
  dims: number[];
  data: ArrayLike<number> | BigInt64Array;
}

export type TensorData = ArrayLike<number> | BigInt64Array;

export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16';
}

/** Product of dims; a string when any is symbolic. */
export function dimProduct(dims: Shape): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d;
    else syms.push(d);
  }
  if (syms.length === 0) return n;
  syms.sort();
  return n === 1 ? syms.join('*') : `${n}*${syms.join('*')}`;
}

export function sameDim(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Numpy broadcasting of static shapes. Symbolic vs numeric (≠1) resolves to the numeric size. */
export function broadcastShapes(...shapes: Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (typeof d === 'number' && typeof e === 'number' && d !== e) {
        throw new GraphError(`cannot broadcast shapes ${shapes.map((x) => `[${x.join(',')}]`).join(' and ')}`);
      } else if (typeof d === 'string' && typeof e === 'number') d = e;
    }
    out.push(d);
  }
  return out;
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphError(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly initByValue = new Map<Value, Initializer>();
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, Value>();
  private counter = 0;
  /** Tags applied to nodes created while a tag scope is active (used by custom-gradient regions). */
  readonly nodeTags = new Map<Node, unknown>();
  private activeTag: unknown = undefined;

  /** The floating dtype of this graph's activations and weights. */
  constructor(readonly dtype: FloatDType = 'float32', readonly name = 'graph') {}

  private fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.names.has(n));
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new GraphError(`duplicate value name "${name}" in graph ${this.name}`);
    this.names.add(name);
    return name;
  }

  // ---------------------------------------------------------------- inputs, initializers, constants

  input(name: string, dtype: DType, dims: Shape): Value {
    const v = new Value(this, this.claim(name), dtype, [...dims], null);
    this.inputs.push(v);
    return v;
  }

  /** A named constant tensor stored in the model (e.g. frozen weights). */
  initializer(name: string, dtype: DType, dims: number[], data: TensorData): Value {
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new GraphError(`initializer "${name}": ${data.length} values for shape [${dims.join(', ')}] (${n} expected)`);
    }
    const v = new Value(this, this.claim(name), dtype, [...dims], null);
    const init = { value: v, dims: [...dims], data };
    this.initializers.push(init);
    this.initByValue.set(v, init);
    return v;
  }

  isInitializer(v: Value): boolean {
    return this.initByValue.has(v);
  }

  /** Constant data of an initializer (for build-time folding), or undefined. */
  constData(v: Value): TensorData | undefined {
    return this.initByValue.get(v)?.data;
  }

  /** An anonymous constant (deduplicated by content). */
  constant(dtype: DType, dims: number[], data: TensorData): Value {
    const key = `${dtype}|${dims.join(',')}|${Array.from(data as ArrayLike<number | bigint>, String).join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const v = this.initializer(this.fresh('const'), dtype, dims, data);
    this.constCache.set(key, v);
    return v;
  }

  /** A scalar constant in the graph's float dtype (or `dtype`). */
  scalar(x: number, dtype: DType = this.dtype): Value {
    if (dtype === 'int64') return this.constant('int64', [], BigInt64Array.of(BigInt(x)));
    return this.constant(dtype, [], [x]);
  }

  /** A 1-D int64 constant (axes, shapes, pads…). */
  ints(xs: number[]): Value {
    return this.constant('int64', [xs.length], BigInt64Array.from(xs.map((x) => BigInt(x))));
  }

  // ---------------------------------------------------------------- generic node

  /**
   * Records a node. `outs` gives each output's dtype and static shape (helpers below infer them).
   * Returns the output values.
   */
  node(
    opType: string,
    inputs: (Value | null)[],
    attrs: Attrs,
    outs: { dtype: DType; shape: Shape; name?: string }[],
    opts: { domain?: string } = {},
  ): Value[] {
    for (const v of inputs) {
      if (v && v.graph !== this) throw new GraphError(`${opType}: input ${v.name} belongs to another graph`);
    }
    const outputs: Value[] = [];
    const node: Node = { opType, domain: opts.domain ?? '', inputs, outputs, attrs, index: this.nodes.length };
    for (const o of outs) {
      outputs.push(new Value(this, this.claim(o.name ?? this.fresh(opType.toLowerCase())), o.dtype, o.shape, node));
    }
    this.nodes.push(node);
    if (this.activeTag !== undefined) this.nodeTags.set(node, this.activeTag);
    return outputs;
  }

  private one(opType: string, inputs: (Value | null)[], attrs: Attrs, dtype: DType, shape: Shape): Value {
    return this.node(opType, inputs, attrs, [{ dtype, shape }])[0]!;
  }

  /** Runs `fn` with every node it creates tagged `tag`. */
  withTag<T>(tag: unknown, fn: () => T): T {
    const prev = this.activeTag;
    this.activeTag = tag;
    try {
      return fn();
    } finally {
      this.activeTag = prev;
    }
  }

  // ---------------------------------------------------------------- elementwise

  private binary(op: string, a: Value, b: Value, outDtype?: DType): Value {
    if (a.dtype !== b.dtype) throw new GraphError(`${op}: dtype mismatch ${a} vs ${b}`);
    return this.one(op, [a, b], {}, outDtype ?? a.dtype, broadcastShapes(a.shape, b.shape));
  }

  add(a: Value, b: Value): Value {
    return this.binary('Add', a, b);
  }
  sub(a: Value, b: Value): Value {
    return this.binary('Sub', a, b);
  }
  mul(a: Value, b: Value): Value {
    return this.binary('Mul', a, b);
  }
  div(a: Value, b: Value): Value {
    return this.binary('Div', a, b);
  }
  pow(a: Value, b: Value): Value {
    return this.binary('Pow', a, b);
  }
  max(a: Value, b: Value): Value {
    return this.binary('Max', a, b);
  }
  min(a: Value, b: Value): Value {
    return this.binary('Min', a, b);
  }
  equal(a: Value, b: Value): Value {
    return this.binary('Equal', a, b, 'bool');
  }
  less(a: Value, b: Value): Value {
    return this.binary('Less', a, b, 'bool');
  }
  greater(a: Value, b: Value): Value {
    return this.binary('Greater', a, b, 'bool');
  }
  and(a: Value, b: Value): Value {
    return this.binary('And', a, b, 'bool');
  }
  or(a: Value, b: Value): Value {
    return this.binary('Or', a, b, 'bool');
  }

  private unary(op: string, x: Value, attrs: Attrs = {}): Value {
    return this.one(op, [x], attrs, x.dtype, [...x.shape]);
  }
  neg(x: Value): Value {
    return this.unary('Neg', x);
  }
  exp(x: Value): Value {
    return this.unary('Exp', x);
  }
  log(x: Value): Value {
    return this.unary('Log', x);
  }
  sqrt(x: Value): Value {
    return this.unary('Sqrt', x);
  }
  reciprocal(x: Value): Value {
    return this.unary('Reciprocal', x);
  }
  sigmoid(x: Value): Value {
    return this.unary('Sigmoid', x);
  }
  tanh(x: Value): Value {
    return this.unary('Tanh', x);
  }
  cos(x: Value): Value {
    return this.unary('Cos', x);
  }
  sin(x: Value): Value {
    return this.unary('Sin', x);
  }
  abs(x: Value): Value {
    return this.unary('Abs', x);
  }
  relu(x: Value): Value {
    return this.unary('Relu', x);
  }
  not(x: Value): Value {
    return this.unary('Not', x);
  }
  identity(x: Value): Value {
    return this.unary('Identity', x);
  }
  softmax(x: Value, axis = -1): Value {
    return this.unary('Softmax', x, { axis });
  }
  logSoftmax(x: Value, axis = -1): Value {
    return this.unary('LogSoftmax', x, { axis });
  }

  where(cond: Value, a: Value, b: Value): Value {
    if (cond.dtype !== 'bool') throw new GraphError(`Where: condition must be bool, got ${cond}`);
    if (a.dtype !== b.dtype) throw new GraphError(`Where: dtype mismatch ${a} vs ${b}`);
    return this.one('Where', [cond, a, b], {}, a.dtype, broadcastShapes(cond.shape, a.shape, b.shape));
  }

  cast(x: Value, to: DType): Value {
    if (x.dtype === to) return x;
    return this.one('Cast', [x], { to: DATA_TYPE[to] }, to, [...x.shape]);
  }

  // ---------------------------------------------------------------- linear algebra

  matmul(a: Value, b: Value): Value {
    if (a.dtype !== b.dtype) throw new GraphError(`MatMul: dtype mismatch ${a} vs ${b}`);
    if (a.rank < 1 || b.rank < 1) throw new GraphError(`MatMul: scalar operand ${a} / ${b}`);
    const as = a.rank === 1 ? [1, a.shape[0]!] : a.shape;
    const bs = b.rank === 1 ? [b.shape[0]!, 1] : b.shape;
    const k1 = as[as.length - 1]!;
    const k2 = bs[bs.length - 2]!;
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new GraphError(`MatMul: inner dims differ ${a} x ${b}`);
    }
    const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2));
    const shape: Shape = [...batch];
    if (a.rank !== 1) shape.push(as[as.length - 2]!);
    if (b.rank !== 1) shape.push(bs[bs.length - 1]!);
    return this.one('MatMul', [a, b], {}, a.dtype, shape);
  }

  // ---------------------------------------------------------------- reductions

  private reduce(op: string, x: Value, axes: number[], keepdims: boolean): Value {
    const ax = axes.map((a) => normAxis(a, x.rank, op));
    const shape: Shape = [];
    x.shape.forEach((d, i) => {
      if (!ax.includes(i)) shape.push(d);
      else if (keepdims) shape.push(1);
    });
    return this.one(op, [x, this.ints(ax)], { keepdims: keepdims ? 1 : 0 }, x.dtype, shape);
  }
  reduceSum(x: Value, axes: number[], keepdims = true): Value {
    if (axes.length === 0) return x;
    return this.reduce('ReduceSum', x, axes, keepdims);
  }
  reduceMean(x: Value, axes: number[], keepdims = true): Value {
    return this.reduce('ReduceMean', x, axes, keepdims);
  }
  reduceMax(x: Value, axes: number[], keepdims = true): Value {
    return this.reduce('ReduceMax', x, axes, keepdims);
  }

  argMax(x: Value, axis: number, keepdims = true): Value {
    const a = normAxis(axis, x.rank, 'ArgMax');
    const shape = x.shape.flatMap((d, i) => (i !== a ? [d] : keepdims ? [1] : []));
    return this.one('ArgMax', [x], { axis: a, keepdims: keepdims ? 1 : 0 }, 'int64', shape);
  }

  // ---------------------------------------------------------------- shape ops

  /**
   * Reshape with an ONNX shape spec: 0 copies the input dim at that index, -1 is inferred.
   * Dims may also be given symbolically via `outShape` when the spec cannot express them.
   */
  reshape(x: Value, spec: number[], outShape?: Shape): Value {
    let shape: Shape;
    if (outShape) shape = [...outShape];
    else {
      shape = spec.map((s, i) => (s === 0 ? x.shape[i]! : s));
      const inf = spec.indexOf(-1);
      if (inf >= 0) {
        const total = dimProduct(x.shape);
        const known = dimProduct(shape.filter((_, i) => i !== inf));
        shape[inf] = divideDim(total, known);
      }
    }
    if (sameShape(shape, x.shape)) return x;
    return this.one('Reshape', [x, this.ints(spec)], {}, x.dtype, shape);
  }

  /** Reshape `x` to the runtime shape of `like` (static shape taken from `like`). */
  reshapeLike(x: Value, like: Value): Value {
    if (sameShape(x.shape, like.shape)) return x;
    if (like.shape.every((d) => typeof d === 'number')) return this.reshape(x, like.shape as number[]);
    return this.one('Reshape', [x, this.shapeOf(like)], {}, x.dtype, [...like.shape]);
  }

  transpose(x: Value, perm: number[]): Value {
    if (perm.length !== x.rank) throw new GraphError(`Transpose: perm [${perm.join(',')}] for ${x}`);
    if (perm.every((p, i) => p === i)) return x;
    // Peephole: Transpose(Transpose(y, p), q) with p∘q = identity is y.
    const prod = x.producer;
    if (prod && prod.opType === 'Transpose') {
      const p = prod.attrs['perm'] as number[];
      if (perm.every((q, i) => p[q] === i)) return prod.inputs[0]!;
    }
    return this.one('Transpose', [x], { perm }, x.dtype, perm.map((p) => x.shape[p]!));
  }

  unsqueeze(x: Value, axes: number[]): Value {
    const rank = x.rank + axes.length;
    const ax = axes.map((a) => normAxis(a, rank, 'Unsqueeze')).sort((a, b) => a - b);
    const shape: Shape = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(ax.includes(i) ? 1 : x.shape[j++]!);
    return this.one('Unsqueeze', [x, this.ints(ax)], {}, x.dtype, shape);
  }

  squeeze(x: Value, axes: number[]): Value {
    const ax = axes.map((a) => normAxis(a, x.rank, 'Squeeze'));
    for (const a of ax) {
      const d = x.shape[a];
      if (typeof d === 'number' && d !== 1) throw new GraphError(`Squeeze: axis ${a} of ${x} is not 1`);
    }
    return this.one('Squeeze', [x, this.ints(ax)], {}, x.dtype, x.shape.filter((_, i) => !ax.includes(i)));
  }

  concat(xs: Value[], axis: number): Value {
    if (xs.length === 0) throw new GraphError('Concat: no inputs');
    if (xs.length === 1) return xs[0]!;
    const first = xs[0]!;
    const a = normAxis(axis, first.rank, 'Concat');
    const shape = [...first.shape];
    shape[a] = dimSum(xs.map((x) => x.shape[a]!));
    for (const x of xs) if (x.dtype !== first.dtype) throw new GraphError(`Concat: dtype mismatch ${x} vs ${first}`);
    return this.one('Concat', xs, { axis: a }, first.dtype, shape);
  }

  /** Split into pieces of the given sizes along `axis`. */
  split(x: Value, axis: number, sizes: number[]): Value[] {
    const a = normAxis(axis, x.rank, 'Split');
    return this.node(
      'Split',
      [x, this.ints(sizes)],
      { axis: a },
      sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === a ? s : d)) })),
    );
  }

  /** Split into `n` equal pieces along `axis` (size may be symbolic). */
  splitEqual(x: Value, axis: number, n: number): Value[] {
    const a = normAxis(axis, x.rank, 'Split');
    const d = x.shape[a]!;
    const piece: Dim = typeof d === 'number' ? d / n : `${d}/${n}`;
    if (typeof piece === 'number' && !Number.isInteger(piece)) throw new GraphError(`Split: ${x} axis ${a} not divisible by ${n}`);
    return this.node(
      'Split',
      [x],
      { axis: a, num_outputs: n },
      Array.from({ length: n }, () => ({ dtype: x.dtype, shape: x.shape.map((e, i) => (i === a ? piece : e)) })),
    );
  }

  /** Slice with constant starts/ends (ONNX semantics: negative counts from the end, clamped). */
  slice(x: Value, starts: number[], ends: number[], axes: number[], steps?: number[]): Value {
    const ax = axes.map((a) => normAxis(a, x.rank, 'Slice'));
    const shape = [...x.shape];
    ax.forEach((a, i) => {
      const step = steps?.[i] ?? 1;
      shape[a] = sliceLength(x.shape[a]!, starts[i]!, ends[i]!, step);
    });
    const ins: Value[] = [x, this.ints(starts), this.ints(ends), this.ints(ax)];
    if (steps) ins.push(this.ints(steps));
    return this.one('Slice', ins, {}, x.dtype, shape);
  }

  gather(data: Value, indices: Value, axis = 0): Value {
    const a = normAxis(axis, data.rank, 'Gather');
    const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.one('Gather', [data, indices], { axis: a }, data.dtype, shape);
  }

  gatherElements(data: Value, indices: Value, axis: number): Value {
    const a = normAxis(axis, data.rank, 'GatherElements');
    return this.one('GatherElements', [data, indices], { axis: a }, data.dtype, [...indices.shape]);
  }

  scatterND(data: Value, indices: Value, updates: Value, reduction: 'none' | 'add' = 'none'): Value {
    return this.one('ScatterND', [data, indices, updates], { reduction }, data.dtype, [...data.shape]);
  }

  scatterElements(data: Value, indices: Value, updates: Value, axis: number, reduction: 'none' | 'add' = 'none'): Value {
    const a = normAxis(axis, data.rank, 'ScatterElements');
    return this.one('ScatterElements', [data, indices, updates], { axis: a, reduction }, data.dtype, [...data.shape]);
  }

  /** Expand to a runtime shape (1-D int64 value) whose static form is `outShape`. */
  expand(x: Value, shape: Value, outShape: Shape): Value {
    return this.one('Expand', [x, shape], {}, x.dtype, broadcastShapes(x.shape, outShape));
  }

  /** Expand `x` to the shape of `like`. */
  expandLike(x: Value, like: Value): Value {
    if (sameShape(x.shape, like.shape)) return x;
    const target = like.shape.every((d) => typeof d === 'number') ? this.ints(like.shape as number[]) : this.shapeOf(like);
    return this.expand(x, target, like.shape);
  }

  /** Runtime shape of `x` (1-D int64), optionally a [start, end) range of it. */
  shapeOf(x: Value, start?: number, end?: number): Value {
    const attrs: Attrs = {};
    if (start !== undefined) attrs['start'] = start;
    if (end !== undefined) attrs['end'] = end;
    const s = start === undefined ? 0 : start < 0 ? start + x.rank : start;
    const e = end === undefined ? x.rank : end < 0 ? end + x.rank : end;
    return this.one('Shape', [x], attrs, 'int64', [e - s]);
  }

  /** A tensor of runtime shape `shape` filled with `value`. */
  constantOfShape(shape: Value, value: number, dtype: DType, outShape: Shape): Value {
    const data = dtype === 'int64' ? BigInt64Array.of(BigInt(value)) : [value];
    return this.one('ConstantOfShape', [shape], { value: { tensor: { dtype, dims: [1], data } } }, dtype, [...outShape]);
  }

  zerosLike(x: Value): Value {
    const shape = x.shape.every((d) => typeof d === 'number') ? this.ints(x.shape as number[]) : this.shapeOf(x);
    return this.constantOfShape(shape, 0, x.dtype, x.shape);
  }

  trilu(x: Value, upper: boolean, k?: Value): Value {
    const ins: (Value | null)[] = [x];
    if (k) ins.push(k);
    return this.one('Trilu', ins, { upper: upper ? 1 : 0 }, x.dtype, [...x.shape]);
  }

  /** Range(start, limit, delta) of scalar values; `len` names the static length. */
  range(start: Value, limit: Value, delta: Value, len: Dim): Value {
    return this.one('Range', [start, limit, delta], {}, start.dtype, [len]);
  }

  /** Pad with constant `value`; pads = [begin_0..begin_{r-1}, end_0..end_{r-1}] (static ints). */
  pad(x: Value, pads: number[], value = 0): Value {
    if (pads.length !== 2 * x.rank) throw new GraphError(`Pad: ${pads.length} pads for ${x}`);
    const shape = x.shape.map((d, i) => addDim(d, pads[i]! + pads[i + x.rank]!));
    return this.one('Pad', [x, this.ints(pads), this.scalar(value, x.dtype)], { mode: 'constant' }, x.dtype, shape);
  }

  // ---------------------------------------------------------------- outputs and encoding

  /** Marks `v` as a graph output named `name` (renaming it, or adding an Identity when it cannot be renamed). */
  output(name: string, v: Value): Value {
    if (v.graph !== this) throw new GraphError(`output ${name}: value belongs to another graph`);
    let out = v;
    if (v.name !== name) {
      const renamable = v.producer !== null && !this.outputs.includes(v);
      if (renamable) {
        this.names.delete(v.name);
        v.name = this.claim(name);
      } else {
        out = this.node('Identity', [v], {}, [{ dtype: v.dtype, shape: [...v.shape], name }])[0]!;
      }
    } else if (this.outputs.includes(v)) return v;
    this.outputs.push(out);
    return out;
  }

  /** Encodes the ModelProto (IR 8, opset 18). Nodes not needed by any output are dropped. */
  toBytes(): Uint8Array {
    if (this.outputs.length === 0) throw new GraphError(`graph ${this.name} has no outputs`);
    const live = this.liveNodes();
    const usedInits = new Set<Value>();
    for (const n of live) for (const i of n.inputs) if (i && this.initByValue.has(i)) usedInits.add(i);
    for (const o of this.outputs) if (this.initByValue.has(o)) usedInits.add(o);
    const graph: onnxProto.onnx.IGraphProto = {
      name: this.name,
      node: live.map((n) => ({
        opType: n.opType,
        domain: n.domain,
        name: `n${n.index}_${n.opType}`,
        input: n.inputs.map((i) => (i ? i.name : '')),
        output: n.outputs.map((o) => o.name),
        attribute: Object.entries(n.attrs)
          .filter((e): e is [string, Attr] => e[1] !== undefined)
          .map(([k, a]) => encodeAttr(k, a)),
      })),
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
      initializer: this.initializers.filter((i) => usedInits.has(i.value)).map((i) => encodeTensor(i.value.name, i.value.dtype, i.dims, i.data)),
    };
    const model: onnxProto.onnx.IModelProto = {
      irVersion: IR_VERSION,
      producerName: 'durable-rlhf',
      opsetImport: [{ domain: '', version: OPSET }, ...this.extraDomains(live)],
      graph,
    };
    return onnx.ModelProto.encode(model).finish();
  }

  private extraDomains(live: Node[]): { domain: string; version: number }[] {
    const ds = new Set(live.map((n) => n.domain).filter((d) => d !== ''));
    return [...ds].map((d) => ({ domain: d, version: 1 }));
  }

  /** Nodes that contribute to some output, in tape order. */
  liveNodes(): Node[] {
    const need = new Set<Node>();
    const stack = this.outputs.map((o) => o.producer).filter((p): p is Node => p !== null);
    while (stack.length) {
      const n = stack.pop()!;
      if (need.has(n)) continue;
      need.add(n);
      for (const i of n.inputs) if (i?.producer) stack.push(i.producer);
    }
    return this.nodes.filter((n) => need.has(n));
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function divideDim(total: Dim, known: Dim): Dim {
  if (typeof total === 'number' && typeof known === 'number') {
    if (known === 0 || total % known !== 0) throw new GraphError(`Reshape: cannot infer -1 (${total} / ${known})`);
    return total / known;
  }
  if (known === 1) return total;
  if (typeof total === 'string' && typeof known === 'string' && total === known) return 1;
  // Remove known's symbolic factors from total when possible.
  const tf = String(total).split('*');
  const kf = String(known).split('*');
  for (const f of kf) {
    const i = tf.indexOf(f);
    if (i < 0) return `(${total})/(${known})`;
    tf.splice(i, 1);
  }
  if (tf.length === 0) return 1;
  const nums = tf.filter((f) => /^\d+$/.test(f));
  if (nums.length === tf.length) return nums.reduce((a, b) => a * Number(b), 1);
  return tf.join('*');
}

function dimSum(ds: Dim[]): Dim {
  if (ds.every((d) => typeof d === 'number')) return (ds as number[]).reduce((a, b) => a + b, 0);
  return ds.map(String).join('+');
}

function addDim(d: Dim, n: number): Dim {
  if (n === 0) return d;
  if (typeof d === 'number') return d + n;
  return `${d}${n >= 0 ? '+' : ''}${n}`;
}

const BIG = 2 ** 62;

function sliceLength(d: Dim, start: number, end: number, step: number): Dim {
  if (typeof d === 'number') {
    const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
    let s = start < 0 ? start + d : start;
    let e = end < 0 ? end + d : end;
    if (step > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
      return Math.max(0, Math.ceil((e - s) / step));
    }
    s = clamp(s, -1, d - 1);
    e = clamp(e, -1, d - 1);
    return Math.max(0, Math.ceil((s - e) / -step));
  }
  if (step === 1) {
    if (start >= 0 && end >= BIG / 2) return start === 0 ? d : `${d}-${start}`;
    if (start >= 0 && end < 0) return `${d}-${start - end}`;
    if (start < 0 && end >= BIG / 2) return -start;
    if (start >= 0 && end >= 0) return end - start;
  }
  return `slice(${d})`;
}

/** End index meaning "to the end" for slice(). */
export const TO_END = BIG;

function valueInfo(v: Value): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function encodeTensor(name: string, dtype: DType, dims: number[], data: TensorData): onnxProto.onnx.ITensorProto {
  let raw: Uint8Array;
  switch (dtype) {
    case 'float32': {
      const a = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
      raw = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      break;
    }
    case 'float64': {
      const a = data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>);
      raw = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      break;
    }
    case 'float16': {
      const a = data instanceof Uint16Array ? data : Uint16Array.from(data as ArrayLike<number>);
      raw = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      break;
    }
    case 'int64': {
      const a = data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>, (x) => BigInt(x)));
      raw = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      break;
    }
    case 'int32': {
      const a = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
      raw = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      break;
    }
    case 'bool': {
      raw = Uint8Array.from(data as ArrayLike<number>, (x) => (x ? 1 : 0));
      break;
    }
  }
  return { name, dims, dataType: DATA_TYPE[dtype], rawData: raw };
}

function encodeAttr(name: string, a: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof a === 'number') return { name, type: T.INT, i: a };
  if (typeof a === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(a) };
  if (Array.isArray(a)) return { name, type: T.INTS, ints: a };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('floats' in a) return { name, type: T.FLOATS, floats: a.floats };
  return { name, type: T.TENSOR, t: encodeTensor('value', a.tensor.dtype, a.tensor.dims, a.tensor.data) };
}

export { isFloat };
