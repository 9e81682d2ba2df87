// deploy/ validated without Docker or Kubernetes (scripts/validate-deploy.ts), and proof that each validator
// rejects what it should. The first run installs the pinned tools into ~/.cache/durable-rlhf (helm is built
// with `go install`, several minutes on 2 cores); later runs take seconds.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHART_DIR,
  COMPOSE_DIR,
  DEPLOY_DIR,
  DOCKER_DIR,
  chartInvariants,
  checkContextAllowList,
  checkRuntimeImports,
  composeInvariants,
  dockerfileInvariants,
  durationSeconds,
  ensureDeployTools,
  expectedSearchAttributes,
  loadCompose,
  packageOf,
  run,
  scriptSearchAttributes,
  validateDeploy,
  type ComposeProject,
  type DeployReport,
  type DeployTools,
  type K8sObject,
  type ManifestReport,
} from '../../scripts/validate-deploy';

const INSTALL_TIMEOUT_MS = 25 * 60_000;

let tools: DeployTools;
let report: DeployReport;
let scratch: string;

beforeAll(async () => {
  tools = await ensureDeployTools({ log: (line) => console.log(`[deploy tools] ${line}`) });
  report = await validateDeploy(tools);
  scratch = await mkdtemp(join(tmpdir(), 'durable-rlhf-deploy-test-'));
}, INSTALL_TIMEOUT_MS);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('deploy/ validates', () => {
  it('passes every check (hadolint, shellcheck, compose-go, helm lint/template, Kubernetes and KEDA schemas)', () => {
    expect(report.errors).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual(['dockerfiles', 'compose', 'helm']);
  });

  it('compose: the GPU stack reserves one NVIDIA GPU for inference and train, the CPU override none', () => {
    const gpu = report.composeProjects['compose.yaml'];
    const cpu = report.composeProjects['compose.yaml+compose.cpu.yaml'];
    expect(gpu && cpu).toBeTruthy();
    const devices = (p: ComposeProject, s: string) => p.services[s]?.deploy?.resources?.reservations?.devices ?? [];
    expect(devices(gpu!, 'inference-worker')).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
    expect(devices(gpu!, 'train-worker')).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
    expect(devices(gpu!, 'control-worker')).toEqual([]);
    expect(devices(cpu!, 'inference-worker')).toEqual([]);
    expect(cpu!.services['train-worker']?.build?.dockerfile).toBe('deploy/docker/cpu.Dockerfile');
    expect(gpu!.services.temporal?.environment?.SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES).toBe('true');
  });

  it('helm: terminationGracePeriodSeconds = shutdown grace + checkpoint interval + margin, from values', () => {
    const grace = (label: string) =>
      (report.renderedCharts[label] ?? []).filter((o) => o.kind === 'Deployment').map((o) => o.spec.template.spec.terminationGracePeriodSeconds);
    expect(grace('default values')).toEqual([450, 450, 450]); // 120 + 300 + 30
    expect(grace('examples/self-hosted-mtls-irsa.yaml')).toEqual([1260, 1260, 1260]); // 300 + 900 + 60
  });

  it('the compose init script registers exactly the search attributes of shared/search-attributes.ts', async () => {
    const script = await readFile(join(COMPOSE_DIR, 'temporal', 'register-search-attributes.sh'), 'utf8');
    expect(scriptSearchAttributes(script).sort()).toEqual(expectedSearchAttributes().sort());
    expect(expectedSearchAttributes()).toContain('RlhfBestReward:Double');
    expect(scriptSearchAttributes(script.replace('RlhfBeta:Double', 'RlhfBeta:Keyword'))).toContain('RlhfBeta:Keyword');
  });
});

describe('the validators reject broken deployments', () => {
  it('compose-check (compose-go) rejects an unknown key, a bad condition and a dangling depends_on', async () => {
    const original = await readFile(join(COMPOSE_DIR, 'compose.yaml'), 'utf8');
    await copyFile(join(COMPOSE_DIR, '.env.example'), join(scratch, '.env.example'));
    const cases: Array<[string, string, RegExp]> = [
      ['typo.yaml', original.replace('stop_grace_period:', 'stop_grace_priod:'), /stop_grace_priod/],
      ['condition.yaml', original.replace('condition: service_healthy', 'condition: service_happy'), /service_happy|condition/],
      ['dangling.yaml', original.replace(/^ {6}s3:$/m, '      s4:'), /undefined service "s4"/],
    ];
    for (const [name, text, message] of cases) {
      await writeFile(join(scratch, name), text);
      const { project, error } = await loadCompose(tools.composeCheck, [name], join(scratch, '.env.example'), scratch);
      expect(project, name).toBeUndefined();
      expect(error, name).toMatch(message);
    }
    const missingSecret = await loadCompose(tools.composeCheck, ['compose.yaml'], '/dev/null');
    expect(missingSecret.error).toMatch(/S3_ACCESS_KEY/);
  });

  it('compose invariants catch a stop grace period shorter than the shutdown grace and a worker polling every queue', () => {
    const project = structuredClone(report.composeProjects['compose.yaml']!);
    project.services['train-worker']!.stop_grace_period = '1m';
    project.services['control-worker']!.environment!.RLHF_WORKER_QUEUES = 'control,inference,train';
    const errors = composeInvariants('test', project, true);
    expect(errors.some((e) => /train-worker stop_grace_period 1m must exceed RLHF_SHUTDOWN_GRACE 120s/.test(e))).toBe(true);
    expect(errors.some((e) => /control-worker must poll only its queue/.test(e))).toBe(true);
  });

  it('hadolint flags a careless Dockerfile', async () => {
    const bad = join(scratch, 'bad.Dockerfile');
    await writeFile(bad, 'FROM node:latest\nRUN cd /app && npm install\nADD . /app\n');
    const result = await run(tools.hadolint, ['--format', 'json', '--no-color', bad]);
    const codes = (JSON.parse(result.stdout) as Array<{ code: string }>).map((f) => f.code);
    expect(result.code).not.toBe(0);
    expect(codes).toEqual(expect.arrayContaining(['DL3007', 'DL3003', 'DL3020']));
  });

  it('image invariants and the build-context allow-list catch a root user and an excluded COPY source', async () => {
    const dockerfile = await readFile(join(DOCKER_DIR, 'cpu.Dockerfile'), 'utf8');
    const ignore = await readFile(join(DOCKER_DIR, 'cpu.Dockerfile.dockerignore'), 'utf8');
    expect(dockerfileInvariants('cpu.Dockerfile', dockerfile)).toEqual([]);
    expect(dockerfileInvariants('cpu.Dockerfile', dockerfile.replace('USER 1000:1000', 'USER root'))).toEqual([
      expect.stringMatching(/non-root user 1000/),
    ]);
    const cuda = await readFile(join(DOCKER_DIR, 'cuda.Dockerfile'), 'utf8');
    expect(dockerfileInvariants('cuda.Dockerfile', cuda.replaceAll('=cuda12', '=skip'))).toEqual([expect.stringMatching(/cuda12/)]);
    expect(checkContextAllowList('cpu.Dockerfile', dockerfile, ignore)).toEqual([]);
    expect(checkContextAllowList('cpu.Dockerfile', `${dockerfile}\nCOPY bench ./bench\n`, ignore)).toEqual([
      expect.stringMatching(/COPY bench is excluded/),
    ]);
    expect(checkContextAllowList('cpu.Dockerfile', dockerfile, ignore.replace('**/node_modules', ''))).toEqual([
      expect.stringMatching(/lets engine\/node_modules into the build context/),
    ]);
  });

  it('the chart computes the grace period from values and refuses contradictory auth', async () => {
    const args = ['template', 'rlhf', CHART_DIR, '--kube-version', '1.33.0'];
    const set = 'shutdown.shutdownGraceSeconds=10,shutdown.checkpointIntervalSeconds=20,shutdown.terminationMarginSeconds=5';
    const rendered = await run(tools.helm, [...args, '--set', set]);
    expect(rendered.code).toBe(0);
    const deployments = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => o?.kind === 'Deployment');
    expect(deployments.map((d) => d.spec.template.spec.terminationGracePeriodSeconds)).toEqual([35, 35, 35]);
    // values.schema.json rejects bad values with the path of the value.
    const cases: Array<[string, RegExp]> = [
      ['workers.train.image=tpu', /\/workers\/train\/image': value must be one of 'cpu', 'cuda'/],
      ['workers.train.gpus=one', /\/workers\/train\/gpus': got string, want integer/],
      ['shutdown.checkpointIntervalSecs=5', /additional properties 'checkpointIntervalSecs' not allowed/],
    ];
    for (const [value, message] of cases) {
      const bad = await run(tools.helm, [...args, '--set', value]);
      expect(bad.code, value).not.toBe(0);
      expect(bad.stderr, value).toMatch(message);
    }
    const both = await run(tools.helm, [...args, '--set', 'temporal.apiKey.enabled=true', '--set', 'temporal.mtls.enabled=true']);
    expect(both.stderr).toMatch(/temporal.apiKey.enabled and temporal.mtls.enabled are exclusive/);
  });

  it('chart invariants catch a short grace period and a GPU worker without a GPU request', () => {
    const objects = structuredClone(report.renderedCharts['default values']!);
    const train = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-train'))!;
    train.spec.template.spec.terminationGracePeriodSeconds = 30;
    delete train.spec.template.spec.containers[0].resources.requests['nvidia.com/gpu'];
    const values = { shutdown: { shutdownGraceSeconds: 120, checkpointIntervalSeconds: 300, terminationMarginSeconds: 30 } };
    const errors = chartInvariants('test', { ...defaultsFor(objects), ...values }, objects);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/train terminationGracePeriodSeconds=30, expected 450/),
        expect.stringMatching(/train must request and limit nvidia.com\/gpu=1/),
      ]),
    );
  });

  it('manifest validation rejects a wrong field type, an unknown KEDA field and an unknown temporal scaler parameter', async () => {
    const objects = structuredClone(report.renderedCharts['examples/temporal-cloud-api-key.yaml']!);
    const dep = objects.find((o) => o.kind === 'Deployment')!;
    dep.spec.template.spec.terminationGracePeriodSeconds = '450';
    const scaled = objects.find((o) => o.kind === 'ScaledObject')!;
    scaled.spec.coolDown = 30;
    scaled.spec.triggers[0].metadata.taskQeue = scaled.spec.triggers[0].metadata.taskQueue;
    delete scaled.spec.triggers[0].metadata.taskQueue;
    const file = join(scratch, 'broken.yaml');
    await writeFile(file, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
    const result = await run(tools.python, [
      join(DEPLOY_DIR, 'tools', 'validate_manifests.py'),
      '--kube-version', '1.33.0',
      '--crd-dir', join(tools.kedaDir, 'config', 'crd', 'bases'),
      '--temporal-scaler', join(tools.kedaDir, 'pkg', 'scalers', 'temporal_scaler.go'),
      file,
    ]);
    expect(result.code).toBe(1);
    const errors = (JSON.parse(result.stdout) as ManifestReport).errors.join('\n');
    expect(errors).toMatch(/terminationGracePeriodSeconds: '450' is not of type 'integer'/);
    expect(errors).toMatch(/'coolDown' was unexpected/);
    expect(errors).toMatch(/unknown temporal scaler parameter 'taskQeue'/);
    expect(errors).toMatch(/missing required temporal scaler parameter 'taskQueue'/);
  });

  it('image code importing a devDependency (absent from npm ci --omit=dev) is an error', async () => {
    expect(packageOf('@aws-sdk/client-s3/dist')).toBe('@aws-sdk/client-s3');
    expect(packageOf('node:fs')).toBeNull();
    expect(packageOf('fs')).toBeNull();
    expect(packageOf('../shared/config')).toBeNull();
    const root = join(scratch, 'repo');
    await mkdir(join(root, 'shared'), { recursive: true });
    await writeFile(join(root, 'package.json'), JSON.stringify({ dependencies: { zod: '^4' }, devDependencies: { 'fast-check': '^4' } }));
    await writeFile(
      join(root, 'package-lock.json'),
      JSON.stringify({ packages: { 'node_modules/zod': {}, 'node_modules/fast-check': { dev: true }, 'node_modules/long': {} } }),
    );
    await writeFile(
      join(root, 'shared', 'a.ts'),
      "import { z } from 'zod';\nimport type { Arbitrary } from 'fast-check';\nimport Long from 'long';\nexport const x = import('left-pad');\n",
    );
    await writeFile(join(root, 'shared', 'b.ts'), "import {\n  assert,\n} from 'fast-check';\n");
    await writeFile(join(root, 'shared', 'b.test.ts'), "import 'vitest';\n");
    const { errors, notes, files } = checkRuntimeImports(root);
    expect(files).toBe(2);
    expect(errors).toEqual([
      "shared/b.ts imports 'fast-check', a devDependency: npm ci --omit=dev leaves it out of the images (move it to dependencies)",
      "shared/a.ts imports 'left-pad', which package-lock.json does not install",
    ]);
    expect(notes).toEqual([expect.stringMatching(/'long' \(imported by shared\/a.ts\) is installed only as a dependency of a dependency/)]);
  });

  it('durations parse like Go and Temporal durations', () => {
    expect(durationSeconds('2m30s')).toBe(150);
    expect(durationSeconds('120s')).toBe(120);
    expect(durationSeconds('1h')).toBe(3600);
    expect(durationSeconds('30000')).toBe(30);
    expect(() => durationSeconds('soon')).toThrow(/not a duration/);
  });
});

/** Chart values matching the default render (what chartInvariants reads besides `shutdown`). */
function defaultsFor(objects: K8sObject[]): Record<string, unknown> {
  const worker = (gpus: number) => ({ enabled: true, gpus, autoscaling: { enabled: false } });
  expect(objects.length).toBeGreaterThan(0);
  return {
    workers: { control: worker(0), inference: worker(1), train: worker(1) },
    queues: { control: 'rlhf-control', inference: 'rlhf-inference', train: 'rlhf-train' },
    s3: { credentials: { enabled: true } },
    temporal: { apiKey: { enabled: false }, mtls: { enabled: false } },
  };
}
