// Secrets of the configuration (S3 keys, Temporal API key, mTLS private key): never printed. Config
// objects from loadConfig() carry non-enumerable toJSON / toString / util.inspect hooks that show
// "[redacted]" in their place, so `console.log(config)`, `JSON.stringify(config)` and template strings are
// safe; the fields themselves keep their values for the code that needs them.
import { inspect } from 'node:util';

export const REDACTED = '[redacted]';

/** Field names whose values are secret wherever they occur in a config object. */
const SECRET_FIELDS = new Set(['secretAccessKey', 'accessKeyId', 'sessionToken', 'apiKey', 'key', 'authorization', 'Authorization', 'payloadKey']);

function redactValue(value: unknown, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELDS.has(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redactValue(v, seen);
  }
  return out;
}

/** A plain copy of `value` with every secret field replaced by "[redacted]". */
export function redacted<T>(value: T): unknown {
  return redactValue(value, new WeakSet());
}

/** Adds non-enumerable toJSON / toString / inspect hooks (recursively) that print the redacted form. */
export function withRedaction<T extends object>(value: T): T {
  const visit = (obj: object, seen: WeakSet<object>): void => {
    if (seen.has(obj) || ArrayBuffer.isView(obj) || Array.isArray(obj)) return;
    seen.add(obj);
    const hooks: PropertyDescriptorMap = {
      toJSON: { value: () => redacted(obj), enumerable: false, configurable: true },
      toString: { value: () => JSON.stringify(redacted(obj)), enumerable: false, configurable: true },
      [inspect.custom]: { value: (_depth: number, options: object) => inspect(redacted(obj), options), enumerable: false, configurable: true },
    };
    Object.defineProperties(obj, hooks);
    for (const v of Object.values(obj)) if (v !== null && typeof v === 'object') visit(v as object, seen);
  };
  visit(value, new WeakSet());
  return value;
}

/** Every secret string in a config-like object (for scrubbing text and for leak tests). */
export function secretValues(value: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, field: string | undefined, depth: number): void => {
    if (depth > 8 || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (field !== undefined && SECRET_FIELDS.has(field) && v.length >= 4) out.add(v);
      return;
    }
    if (ArrayBuffer.isView(v)) {
      if (field !== undefined && SECRET_FIELDS.has(field) && v.byteLength >= 4) out.add(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8'));
      return;
    }
    if (typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k, depth + 1);
  };
  walk(value, undefined, 0);
  return [...out];
}

/** `text` with every occurrence of each secret replaced by "[redacted]". */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join(REDACTED);
  return out;
}
