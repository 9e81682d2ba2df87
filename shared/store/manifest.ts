// The commit record of an artifact prefix. Written LAST, at `<prefix>/_manifest.json`; a prefix without it
// is not an artifact. No wall-clock fields: two runs that produce the same bytes produce the same manifest.
import { z } from 'zod';

export const MANIFEST_NAME = '_manifest.json';
export const MANIFEST_VERSION = 1;

/** One object of a committed artifact; `key` is relative to the manifest's prefix. */
export interface ManifestEntry {
  key: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  version: typeof MANIFEST_VERSION;
  /** The prefix this manifest commits (no trailing slash). */
  prefix: string;
  /** Sorted by key. */
  entries: ManifestEntry[];
  /** Small step metadata (metrics, parameters). Must be JSON; serialized with sorted keys. */
  meta: Record<string, unknown>;
}

export const manifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  prefix: z.string().min(1),
  entries: z.array(
    z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
  meta: z.record(z.string(), z.unknown()),
});

/** JSON with object keys sorted at every level, so equal values give equal bytes. */
export function canonicalJson(value: unknown, indent = 2): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}
