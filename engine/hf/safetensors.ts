// The safetensors format: 8-byte little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}), then raw
// little-endian tensor bytes. The engine computes in float32: F16 and BF16 are widened on read.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EngineInputError } from './errors';

/** A dense float32 tensor, row-major. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** IEEE half → float (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float → IEEE half, round to nearest even (as torch's `.half()`). */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  e = h >> 10;
  return sign | h;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Parse and validate a safetensors header. `head` holds at least the first 8 bytes (and, once the length is
 * known, the whole header); `fileSize` is the size of the whole file.
 */
function headerLength(head: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || head.byteLength < 8) {
    throw new EngineInputError(`${file}: corrupt safetensors header (file is ${fileSize} bytes, shorter than the 8-byte length prefix)`);
  }
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (n <= 0 || 8 + n > fileSize || n > 100_000_000) {
    throw new EngineInputError(`${file}: corrupt safetensors header (header length ${n} does not fit the ${fileSize}-byte file)`);
  }
  return n;
}

function parseHeader(headerBytes: Uint8Array, fileSize: number, file: string): { entries: Map<string, HeaderEntry>; dataStart: number; metadata: Record<string, string> } {
  const n = headerBytes.byteLength;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new EngineInputError(`${file}: corrupt safetensors header (not valid JSON: ${(e as Error).message})`, { cause: e });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new EngineInputError(`${file}: corrupt safetensors header (not a JSON object)`);
  }
  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as Partial<HeaderEntry> | null;
    const ok =
      e !== null &&
      typeof e === 'object' &&
      typeof e.dtype === 'string' &&
      Array.isArray(e.shape) &&
      e.shape.every((d) => Number.isInteger(d) && d >= 0) &&
      Array.isArray(e.data_offsets) &&
      e.data_offsets.length === 2 &&
      Number.isInteger(e.data_offsets[0]) &&
      Number.isInteger(e.data_offsets[1]);
    if (!ok) throw new EngineInputError(`${file}: corrupt safetensors header entry for tensor "${name}"`);
    const [b, end] = e.data_offsets as [number, number];
    if (b < 0 || end < b || end > dataLen) {
      throw new EngineInputError(`${file}: tensor "${name}" data_offsets [${b}, ${end}] lie outside the ${dataLen}-byte data section`);
    }
    const size = BYTES[e.dtype as SafetensorsDtype];
    if (size !== undefined && end - b !== size * numel(e.shape as number[])) {
      throw new EngineInputError(
        `${file}: tensor "${name}" has ${end - b} bytes, but ${e.dtype} of shape [${(e.shape as number[]).join(', ')}] needs ${size * numel(e.shape as number[])}`,
      );
    }
    entries.set(name, e as HeaderEntry);
  }
  // As the reference implementation: tensors tile the data section without gaps or overlaps.
  const spans = [...entries].sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0] || a.data_offsets[1] - b.data_offsets[1]);
  let expectedStart = 0;
  for (const [name, e] of spans) {
    if (e.data_offsets[0] !== expectedStart) {
      throw new EngineInputError(
        `${file}: tensor "${name}" data_offsets [${e.data_offsets[0]}, ${e.data_offsets[1]}] ${e.data_offsets[0] < expectedStart ? 'overlap the previous tensor' : 'leave a gap after the previous tensor'} (expected start ${expectedStart})`,
      );
    }
    expectedStart = e.data_offsets[1];
  }
  return { entries, dataStart, metadata };
}

/** Read `length` bytes at `position` into `target` (loops over short reads). */
function readExactly(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = readSync(fd, target, done, target.byteLength - done, position + done);
    if (n <= 0) throw new EngineInputError(`${file}: unexpected end of file`);
    done += n;
  }
}

function openForRead(file: string): { fd: number; size: number } {
  try {
    const fd = openSync(file, 'r');
    return { fd, size: fstatSync(fd).size };
  } catch (e) {
    throw new EngineInputError(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

function readHeader(fd: number, size: number, file: string): ReturnType<typeof parseHeader> {
  const prefix = new Uint8Array(Math.min(8, size));
  if (prefix.byteLength > 0) readExactly(fd, prefix, 0, file);
  const n = headerLength(prefix, size, file);
  const headerBytes = new Uint8Array(n);
  readExactly(fd, headerBytes, 8, file);
  return parseHeader(headerBytes, size, file);
}

/** Decode one tensor from its raw little-endian bytes (read straight from the file, one tensor at a time). */
function decode(fd: number, e: HeaderEntry, dataStart: number, file: string, name: string): Float32Array {
  const start = dataStart + e.data_offsets[0];
  const count = numel(e.shape);
  const out = new Float32Array(count);
  switch (e.dtype) {
    case 'F32':
      // Host is little-endian (x86/arm64): the bytes are the values.
      readExactly(fd, new Uint8Array(out.buffer), start, file);
      return out;
    case 'F16':
    case 'BF16': {
      const raw = new Uint16Array(count);
      readExactly(fd, new Uint8Array(raw.buffer), start, file);
      if (e.dtype === 'F16') for (let i = 0; i < count; i++) out[i] = f16ToF32(raw[i]!);
      else {
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < count; i++) bits[i] = raw[i]! << 16;
      }
      return out;
    }
    default:
      throw new EngineInputError(`${file}: tensor "${name}" has unsupported dtype ${e.dtype} (supported: F32, F16, BF16)`);
  }
}

/** Read every tensor of a .safetensors file, widened to float32 (any file size; one tensor in memory twice at most). */
export function readSafetensors(file: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const { fd, size } = openForRead(file);
  try {
    const { entries, dataStart, metadata } = readHeader(fd, size, file);
    const tensors = new Map<string, Tensor>();
    for (const [name, e] of entries) tensors.set(name, { shape: [...e.shape], data: decode(fd, e, dataStart, file, name) });
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Header only: name → {dtype, shape}. */
export function readSafetensorsHeader(file: string): Map<string, { dtype: string; shape: number[] }> {
  const { fd, size } = openForRead(file);
  try {
    const { entries } = readHeader(fd, size, file);
    return new Map([...entries].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape }]));
  } finally {
    closeSync(fd);
  }
}

type TensorSource = Map<string, Tensor> | Record<string, Tensor>;
interface WriteOptions {
  dtype?: 'F32' | 'F16';
  metadata?: Record<string, string>;
}

/** Header bytes (names sorted, padded to 8 bytes as the reference writer) and the tensors in file order. */
function layout(tensors: TensorSource, opts: WriteOptions): { header: Buffer; entries: [string, Tensor][]; dataBytes: number } {
  const dtype = opts.dtype ?? 'F32';
  const entries = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (opts.metadata) header['__metadata__'] = opts.metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    if (numel(t.shape) !== t.data.length) {
      throw new EngineInputError(`tensor "${name}": shape [${t.shape.join(', ')}] does not match its ${t.data.length} values`);
    }
    const bytes = t.data.length * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  return { header: out, entries, dataBytes: offset };
}

/** The raw bytes of one tensor in the file's dtype. */
function tensorBytes(t: Tensor, dtype: 'F32' | 'F16'): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const half = new Uint16Array(t.data.length);
  for (let i = 0; i < half.length; i++) half[i] = f32ToF16(t.data[i]!);
  return new Uint8Array(half.buffer);
}

/** Encode tensors as one in-memory safetensors buffer (small files, tests). */
export function encodeSafetensors(tensors: TensorSource, opts: WriteOptions = {}): Buffer {
  const { header, entries, dataBytes } = layout(tensors, opts);
  const out = Buffer.alloc(header.length + dataBytes);
  header.copy(out, 0);
  let pos = header.length;
  for (const [, t] of entries) {
    const b = tensorBytes(t, opts.dtype ?? 'F32');
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}

/** Write a .safetensors file atomically (tmp file + rename), streaming one tensor at a time. */
export function writeSafetensors(file: string, tensors: TensorSource, opts: WriteOptions = {}): void {
  const withMeta: WriteOptions = { ...opts, metadata: { format: 'pt', ...opts.metadata } };
  const { header, entries } = layout(tensors, withMeta);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, header);
    for (const [, t] of entries) writeAll(fd, tensorBytes(t, opts.dtype ?? 'F32'));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/**
 * Read a model's weights from a folder: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json` (`weight_map`: tensor name → shard file).
 */
export function readModelWeights(dir: string): { tensors: Map<string, Tensor>; files: string[] } {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) return { tensors: readSafetensors(single).tensors, files: [single] };
  if (!existsSync(index)) {
    throw new EngineInputError(`no weights in ${dir}: neither model.safetensors nor model.safetensors.index.json exists`);
  }
  let weightMap: Record<string, string>;
  try {
    const j = JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> };
    if (!j.weight_map || typeof j.weight_map !== 'object') throw new Error('missing "weight_map"');
    weightMap = j.weight_map;
  } catch (e) {
    throw new EngineInputError(`${index}: invalid shard index (${(e as Error).message})`, { cause: e });
  }
  const shards = [...new Set(Object.values(weightMap))].sort();
  const tensors = new Map<string, Tensor>();
  const files: string[] = [];
  for (const shard of shards) {
    const f = join(dir, shard);
    if (!existsSync(f)) throw new EngineInputError(`${index}: shard ${shard} is listed but ${f} does not exist`);
    files.push(f);
    for (const [name, t] of readSafetensors(f).tensors) {
      if (weightMap[name] === shard) tensors.set(name, t);
    }
  }
  for (const [name, shard] of Object.entries(weightMap)) {
    if (!tensors.has(name)) throw new EngineInputError(`${join(dir, shard)}: tensor "${name}" is listed in ${index} but absent from the shard`);
  }
  return { tensors, files };
}
