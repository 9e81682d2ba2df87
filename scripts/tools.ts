// Pinned external binaries: the Temporal CLI (dev server + UI) and versitygw (S3 gateway).
//
//   npx tsx scripts/tools.ts ensure            find or build both (prints progress; building takes minutes)
//   npx tsx scripts/tools.ts path temporal     print the path of a found binary (does not build)
//
// Lookup order: the right version on PATH, then the cache (~/.cache/durable-rlhf/bin/<name>-<version>/,
// root overridable with DURABLE_RLHF_CACHE), else `go install <module>@v<version>` with GOBIN=cache dir.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export type ToolName = 'temporal' | 'versitygw';

export interface ToolSpec {
  name: ToolName;
  version: string;
  /** Go package path for `go install`. */
  module: string;
  /** Extra environment for the build. */
  buildEnv: Record<string, string>;
  /** Does `<binary> --version` output name this version? */
  matchesVersion(output: string): boolean;
}

const versionPattern = (v: string): RegExp => new RegExp(`(^|[^0-9.])v?${v.replace(/\./g, '\\.')}([^0-9.]|$)`);

export const TOOLS: Record<ToolName, ToolSpec> = {
  temporal: {
    name: 'temporal',
    version: '1.5.1',
    module: 'github.com/temporalio/cli/cmd/temporal',
    buildEnv: {},
    // "temporal version 1.5.1 (Server 1.29.1, UI 2.41.0)": the CLI's own version comes first.
    matchesVersion: (out) => versionPattern('1.5.1').test(/temporal version (\S+)/.exec(out)?.[1] ?? ''),
  },
  versitygw: {
    name: 'versitygw',
    version: '1.7.0',
    module: 'github.com/versity/versitygw/cmd/versitygw',
    buildEnv: { CGO_ENABLED: '0' },
    // "Version  : v1.7.0"
    matchesVersion: (out) => versionPattern('1.7.0').test(/Version\s*:\s*(\S+)/.exec(out)?.[1] ?? ''),
  },
};

/** A tool cannot be found or built. The message is one line saying what to do. */
export class ToolError extends Error {
  override name = 'ToolError';
}

type Env = Record<string, string | undefined>;

/** Root of the binary cache: DURABLE_RLHF_CACHE or ~/.cache/durable-rlhf. */
export function cacheRoot(env: Env = process.env): string {
  return env.DURABLE_RLHF_CACHE || join(env.HOME || homedir(), '.cache', 'durable-rlhf');
}

/** The cache directory of one pinned tool: <root>/bin/<name>-<version>/. */
export function toolCacheDir(name: ToolName, env: Env = process.env): string {
  return join(cacheRoot(env), 'bin', `${name}-${TOOLS[name].version}`);
}

/** Whether `path` is an executable file. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every executable named `command` on PATH, in PATH order. */
export function whichAll(command: string, env: Env = process.env): string[] {
  return (env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, command))
    .filter(isExecutable);
}

function versionOutput(path: string): string {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 15_000 });
  return `${out.stdout ?? ''}${out.stderr ?? ''}`;
}

/** Path of the pinned tool on PATH (right version) or in the cache; undefined when neither has it. */
export function findTool(name: ToolName, env: Env = process.env): string | undefined {
  const spec = TOOLS[name];
  for (const candidate of whichAll(name, env)) {
    if (spec.matchesVersion(versionOutput(candidate))) return candidate;
  }
  // The cache directory is versioned; `go install` builds print a dev version string, so trust the path.
  const cached = join(toolCacheDir(name, env), name);
  return isExecutable(cached) ? cached : undefined;
}

/** Path of the pinned tool; throws ToolError with the fix when it is missing (does not build). */
export function requireTool(name: ToolName, env: Env = process.env): string {
  const found = findTool(name, env);
  if (!found) {
    const spec = TOOLS[name];
    throw new ToolError(`${name} ${spec.version} not found on PATH or in ${toolCacheDir(name, env)}; run \`npx tsx scripts/tools.ts ensure\``);
  }
  return found;
}

function missingGoMessage(name: ToolName, env: Env): string {
  const spec = TOOLS[name];
  const extra = Object.entries(spec.buildEnv).map(([k, v]) => `${k}=${v} `).join('');
  return (
    `${name} ${spec.version} is not on PATH or in ${toolCacheDir(name, env)} and \`go\` is not installed: ` +
    `install Go >= 1.23 (https://go.dev/dl) and rerun, or build it yourself with ` +
    `\`${extra}GOBIN=${toolCacheDir(name, env)} go install ${spec.module}@v${spec.version}\``
  );
}

/** Finds the tool or builds it with `go install` into the cache, printing progress through `log`. */
export async function ensureTool(name: ToolName, options: { env?: Env; log?: (line: string) => void } = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const found = findTool(name, env);
  if (found) return found;
  const go = whichAll('go', env)[0];
  if (!go) throw new ToolError(missingGoMessage(name, env));

  const spec = TOOLS[name];
  const dir = toolCacheDir(name, env);
  const staging = `${dir}.building-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  log(`building ${name} ${spec.version}: go install ${spec.module}@v${spec.version} (downloads modules and compiles; takes a few minutes)`);
  const started = Date.now();
  let packages = 0;
  let lastLine = '';
  const child = spawn(go, ['install', '-v', `${spec.module}@v${spec.version}`], {
    env: { ...env, ...spec.buildEnv, GOBIN: staging } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onOutput = (data: Buffer): void => {
    for (const line of data.toString().split('\n')) {
      if (line.trim() === '') continue;
      lastLine = line.trim();
      if (!line.startsWith('go: ')) packages += 1;
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const ticker = setInterval(() => {
    log(`  ... ${name}: ${Math.round((Date.now() - started) / 1000)}s, ${packages} packages compiled`);
  }, 15_000);
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (c) => resolve(c ?? -1));
  }).finally(() => clearInterval(ticker));
  if (code !== 0 || !existsSync(join(staging, name))) {
    await rm(staging, { recursive: true, force: true });
    throw new ToolError(`building ${name} ${spec.version} with go install failed (exit ${code}): ${lastLine}`);
  }
  await mkdir(dir, { recursive: true });
  await rename(join(staging, name), join(dir, name));
  await rm(staging, { recursive: true, force: true });
  log(`built ${name} ${spec.version} in ${Math.round((Date.now() - started) / 1000)}s -> ${join(dir, name)}`);
  return join(dir, name);
}

/** Ensures every pinned tool; returns their paths. */
export async function ensureTools(options: { env?: Env; log?: (line: string) => void } = {}): Promise<Record<ToolName, string>> {
  return {
    temporal: await ensureTool('temporal', options),
    versitygw: await ensureTool('versitygw', options),
  };
}

async function main(argv: string[]): Promise<void> {
  const [command, arg] = argv;
  if (command === 'ensure') {
    const paths = await ensureTools();
    for (const [name, path] of Object.entries(paths)) console.log(`${name} ${TOOLS[name as ToolName].version}: ${path}`);
    return;
  }
  if (command === 'path' && (arg === 'temporal' || arg === 'versitygw')) {
    console.log(requireTool(arg));
    return;
  }
  throw new ToolError('usage: tsx scripts/tools.ts ensure | path temporal | path versitygw');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
