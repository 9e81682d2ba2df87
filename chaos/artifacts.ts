// What a finished run left in S3, read straight from the S3 server (not through the fault proxy): every
// committed manifest under runs/<run>/, each entry re-read and verified against its size and sha256, JSONL
// row counts and duplicate rows, and objects no manifest covers.
import { createHash } from 'node:crypto';
import { MANIFEST_NAME, type ArtifactStore } from '../shared/store';
import { runPrefix } from '../shared/layout';

export interface RunArtifacts {
  /** prefix relative to runs/<run>/ → entry key → sha256. */
  manifests: Map<string, Map<string, string>>;
  /** entry `prefix/key` → { rows, duplicates } for JSONL entries. */
  jsonl: Map<string, { rows: number; duplicates: number }>;
  /** Manifest entries whose bytes are missing or differ from the manifest (a reader would see them). */
  corrupt: string[];
  /** Objects under the run that no manifest lists (invisible to readers; leftovers of interrupted steps). */
  orphans: string[];
}

/** Intermediate training checkpoints (`.../train/step-NNNNNN`): compared when both runs have them. */
export const isIntermediate = (prefix: string): boolean => /(^|\/)train\/step-\d+$/.test(prefix);

export async function collectArtifacts(store: ArtifactStore, run: string): Promise<RunArtifacts> {
  const base = runPrefix(run);
  const objects = await store.list(base);
  const manifestKeys = objects.filter((o) => o.key.endsWith(`/${MANIFEST_NAME}`)).map((o) => o.key);
  const out: RunArtifacts = { manifests: new Map(), jsonl: new Map(), corrupt: [], orphans: [] };
  const covered = new Set<string>(manifestKeys);
  for (const key of manifestKeys) {
    const prefix = key.slice(0, -(MANIFEST_NAME.length + 1));
    const manifest = await store.getManifest(prefix);
    if (!manifest) continue;
    const rel = prefix.slice(base.length + 1);
    const entries = new Map<string, string>();
    for (const e of manifest.entries) {
      entries.set(e.key, e.sha256);
      const full = `${prefix}/${e.key}`;
      covered.add(full);
      let bytes: Buffer;
      try {
        bytes = await store.getBytes(full, { expect: e });
      } catch (err) {
        out.corrupt.push(`${rel}/${e.key}: ${(err as Error).message}`);
        continue;
      }
      if (e.key.endsWith('.jsonl')) {
        const lines = bytes.toString('utf8').split('\n').filter((l) => l.trim() !== '');
        const seen = new Set<string>();
        let duplicates = 0;
        for (const l of lines) {
          const h = createHash('sha1').update(l).digest('hex');
          if (seen.has(h)) duplicates += 1;
          seen.add(h);
        }
        out.jsonl.set(`${rel}/${e.key}`, { rows: lines.length, duplicates });
      }
    }
    out.manifests.set(rel, entries);
  }
  out.orphans = objects.map((o) => o.key).filter((k) => !covered.has(k)).map((k) => k.slice(base.length + 1));
  return out;
}

export interface ArtifactComparison {
  /** Final artifacts (prefix/entry) whose sha256 differs, or that one run lacks. */
  differences: string[];
  missingRows: number;
  duplicateRows: number;
}

/** Compares a run under faults with the fault-free run of the same seed. */
export function compareArtifacts(expected: RunArtifacts, actual: RunArtifacts): ArtifactComparison {
  const differences: string[] = [];
  const prefixes = new Set([...expected.manifests.keys(), ...actual.manifests.keys()]);
  for (const p of [...prefixes].sort()) {
    const e = expected.manifests.get(p);
    const a = actual.manifests.get(p);
    if (!e || !a) {
      if (!isIntermediate(p)) differences.push(`${p}: committed only in the ${e ? 'fault-free' : 'faulty'} run`);
      continue;
    }
    for (const key of new Set([...e.keys(), ...a.keys()])) {
      if (e.get(key) !== a.get(key)) differences.push(`${p}/${key}: sha256 ${a.get(key)?.slice(0, 12) ?? 'missing'} vs fault-free ${e.get(key)?.slice(0, 12) ?? 'missing'}`);
    }
  }
  let missingRows = 0;
  let duplicateRows = 0;
  for (const [key, e] of expected.jsonl) {
    const a = actual.jsonl.get(key);
    if (!a) continue;
    missingRows += Math.max(0, e.rows - a.rows);
    duplicateRows += Math.max(0, a.duplicates - e.duplicates) + Math.max(0, a.rows - e.rows);
  }
  return { differences, missingRows, duplicateRows };
}
