// Recipe options from the command line: a config file (.json/.yaml), `--set key=value` overrides and sweep
// grids (`--grid beta=0.05,0.1`), checked against the recipe schema (shared/recipe.ts) before anything starts.
// Keys are full paths (`online.beta`) or any unambiguous suffix (`beta`), plus a few aliases (`lr`).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RECIPE_DEFAULTS, RecipeError, resolveRecipe, type RecipeInput, type RecipeOptions } from '../shared/recipe';
import { CliError, UsageError } from './errors';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf path of the recipe with its default value: 'online.beta' → 0.1. */
export function recipeLeaves(value: unknown = RECIPE_DEFAULTS, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) recipeLeaves(v, path ? `${path}.${k}` : k, out);
  else out.set(path, value);
  return out;
}

const LEAVES = recipeLeaves();

/** Short names for the knobs people sweep most; they mean the online-DPO stage. */
export const ALIASES: Record<string, string> = {
  lr: 'online.learningRate',
  learning_rate: 'online.learningRate',
  T: 'online.iterations',
  K: 'online.k',
  label_smoothing: 'online.labelSmoothing',
  rpo_alpha: 'online.rpoAlpha',
};

/** Levenshtein distance (case-insensitive). */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** Up to `max` known keys closest to `key` (by the full path and by the last segment). */
export function closeMatches(key: string, max = 3): string[] {
  const last = key.split('.').pop() ?? key;
  const scored = [...LEAVES.keys()].map((path) => {
    const leaf = path.split('.').pop() ?? path;
    const d = Math.min(editDistance(key, path), editDistance(last, leaf) + (key.includes('.') ? 1 : 0));
    const contains = leaf.toLowerCase().includes(last.toLowerCase()) || last.toLowerCase().includes(leaf.toLowerCase());
    return { path, d: contains ? Math.min(d, 2) : d };
  });
  const limit = Math.max(2, Math.floor(last.length / 2));
  return scored
    .filter((s) => s.d <= limit)
    .sort((x, y) => x.d - y.d || x.path.localeCompare(y.path))
    .slice(0, max)
    .map((s) => s.path);
}

/** The full recipe path of a key: exact path, alias, or unambiguous suffix ('beta' → 'online.beta'). */
export function resolveKey(key: string): string {
  if (LEAVES.has(key)) return key;
  const alias = ALIASES[key];
  if (alias) return alias;
  const suffix = [...LEAVES.keys()].filter((p) => p.endsWith(`.${key}`));
  if (suffix.length === 1) return suffix[0] as string;
  if (suffix.length > 1) {
    const online = suffix.find((p) => p === `online.${key}`);
    if (online) return online;
    throw new UsageError(`option '${key}' is ambiguous: use one of ${suffix.join(', ')}`);
  }
  if ([...LEAVES.keys()].some((p) => p.startsWith(`${key}.`))) {
    throw new UsageError(`option '${key}' is a group, not a value: set one of its keys, e.g. ${[...LEAVES.keys()].find((p) => p.startsWith(`${key}.`))}`);
  }
  const close = closeMatches(key);
  throw new UsageError(`unknown option '${key}'${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}; list them with 'durable-rlhf options'`);
}

/** Splits on commas outside brackets/quotes: '1,[1,0.7],"a,b"' → ['1', '[1,0.7]', '"a,b"']. */
export function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  out.push(current);
  return out.map((s) => s.trim());
}

/** Parses a command-line value for a recipe path, by the type of its default. */
export function parseValue(path: string, raw: string): Json {
  const def = LEAVES.get(path);
  const bad = (what: string): never => {
    throw new UsageError(`${path} expects ${what}, got '${raw}'`);
  };
  if (typeof def === 'number') {
    const n = raw.trim() === '' ? Number.NaN : Number(raw);
    return Number.isFinite(n) ? n : bad('a number');
  }
  if (typeof def === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : bad('true or false');
  if (Array.isArray(def)) {
    let items: unknown[];
    if (raw.trim().startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (!Array.isArray(parsed)) return bad('a list');
        items = parsed;
      } catch {
        return bad('a JSON list such as [1.0,0.7] or a comma-separated list');
      }
    } else items = raw.split(',').map((s) => s.trim());
    const numeric = def.length > 0 && typeof def[0] === 'number';
    return items.map((item) => {
      if (!numeric) return typeof item === 'string' ? item : JSON.stringify(item);
      const n = typeof item === 'number' ? item : Number(item);
      return Number.isFinite(n) ? n : bad('a list of numbers');
    });
  }
  if (def === null || typeof def === 'string') {
    if (raw === 'null' && (def === null || path.endsWith('Uri') || path.startsWith('models.'))) return null;
    return raw;
  }
  return raw;
}

/** Sets a dotted path in a nested object (creating groups). */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isPlainObject(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** `key=value` → [full path, parsed value]. */
export function parseAssignment(text: string, flag = '--set'): [string, Json] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag} expects key=value, got '${text}'`);
  const path = resolveKey(text.slice(0, eq).trim());
  return [path, parseValue(path, text.slice(eq + 1))];
}

/** Applies `--set` assignments over a base input (a copy is returned). */
export function applySets(base: RecipeInput, sets: string[]): RecipeInput {
  const out = JSON.parse(JSON.stringify(base ?? {})) as Record<string, unknown>;
  for (const s of sets) {
    const [path, value] = parseAssignment(s);
    setPath(out, path, value);
  }
  return out as RecipeInput;
}

/** Reads a .json/.yaml/.yml recipe file (an object of options, possibly partial). */
export async function loadConfigFile(path: string): Promise<RecipeInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`config file ${path}: ${code === 'ENOENT' ? 'not found' : `cannot read (${code ?? (err as Error).message})`}`);
  }
  const ext = extname(path).toLowerCase();
  let value: unknown;
  try {
    if (ext === '.json') value = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') value = parseYaml(text);
    else throw new CliError(`config file ${path}: expected a .json, .yaml or .yml file`);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`config file ${path}: invalid ${ext === '.json' ? 'JSON' : 'YAML'} (${(err as Error).message.split('\n')[0]})`);
  }
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new CliError(`config file ${path}: expected an object of recipe options`);
  // A file may wrap the options as { recipe: {...} } like the workflow input.
  return (isPlainObject(value.recipe) && Object.keys(value).length === 1 ? value.recipe : value) as RecipeInput;
}

/** Full options (validated); RecipeError problems become one line, unknown keys get close matches. */
export function validateRecipe(input: RecipeInput, source = 'options'): RecipeOptions {
  try {
    return resolveRecipe(input);
  } catch (err) {
    if (!(err instanceof RecipeError)) throw err;
    const problems = err.problems.map((p) => {
      const m = /^unknown option '([^']+)'/.exec(p);
      if (!m?.[1]) return p;
      const close = closeMatches(m[1]);
      return `unknown option '${m[1]}'${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`;
    });
    throw new CliError(`invalid ${source}: ${problems.join('; ')}`);
  }
}

// ------------------------------------------------------------------ sweep grids

export interface GridAxis {
  path: string;
  values: Json[];
}

/** `beta=0.05,0.1,0.3` → { path: 'online.beta', values: [0.05, 0.1, 0.3] }. */
export function parseGridAxis(text: string): GridAxis {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new UsageError(`--grid expects key=v1,v2,..., got '${text}'`);
  const path = resolveKey(text.slice(0, eq).trim());
  const parts = splitTopLevel(text.slice(eq + 1));
  if (parts.some((p) => p === '')) throw new UsageError(`--grid ${text}: empty value in the list`);
  const values = parts.map((p) => parseValue(path, p.replace(/^(["'])(.*)\1$/, '$2')));
  const seen = new Set(values.map((v) => JSON.stringify(v)));
  if (seen.size !== values.length) throw new UsageError(`--grid ${text}: repeated value`);
  return { path, values };
}

export type GridPoint = Record<string, Json>;

/** The cartesian product of the axes, first axis slowest: [{online.beta: 0.05, online.learningRate: 1e-4}, ...]. */
export function expandGrid(axes: GridAxis[]): GridPoint[] {
  const paths = axes.map((a) => a.path);
  const dup = paths.find((p, i) => paths.indexOf(p) !== i);
  if (dup) throw new UsageError(`--grid names ${dup} twice`);
  let points: GridPoint[] = [{}];
  for (const axis of axes) points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.path]: v })));
  return axes.length === 0 ? [] : points;
}

/** The input of one grid point: the base input with the point's values set. */
export function pointInput(base: RecipeInput, point: GridPoint): RecipeInput {
  const out = JSON.parse(JSON.stringify(base ?? {})) as Record<string, unknown>;
  for (const [path, value] of Object.entries(point)) setPath(out, path, value);
  return out as RecipeInput;
}

/** "beta=0.1 learningRate=0.0001" — last path segment, for summaries. */
export function describePoint(point: GridPoint): string {
  return Object.entries(point)
    .map(([path, v]) => `${path.split('.').pop()}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
