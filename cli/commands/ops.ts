// `services up|down|status` (the local dev stack), `worker` (activity/workflow workers), `options` (the schema).
import { RECIPE_DEFAULTS } from '../../shared/recipe';
import type { CommandSpec, ParsedArgs } from '../args';
import type { Io } from '../context';
import { UsageError } from '../errors';
import { ALIASES, recipeLeaves } from '../recipe-options';

export const servicesSpec: CommandSpec = {
  name: 'services',
  summary: 'Start, stop or inspect the local stack: Temporal dev server (+ Web UI) and the S3 gateway (versitygw).',
  usage: 'durable-rlhf services up|down|status',
  positionals: [1, 1],
  flags: {},
};

export const workerSpec: CommandSpec = {
  name: 'worker',
  summary: 'Run workers for the task queues (default all three: rlhf-control, rlhf-inference, rlhf-train) until Ctrl-C.',
  usage: 'durable-rlhf worker [--queues control,inference,train]',
  positionals: [0, 0],
  flags: { queues: { kind: 'string', value: 'LIST', help: 'comma-separated subset of control,inference,train (default: RLHF_WORKER_QUEUES or all)' } },
};

export const optionsSpec: CommandSpec = {
  name: 'options',
  summary: 'List every recipe option with its default (keys for --set, --grid and config files).',
  usage: 'durable-rlhf options',
  positionals: [0, 0],
  flags: {},
};

export async function servicesCommand(args: ParsedArgs, io: Io): Promise<void> {
  const action = args.positionals[0];
  const stack = await import('../../scripts/stack');
  const o = stack.stackOptions();
  if (action === 'up') {
    const info = await stack.stackUp(o);
    for (const line of stack.describeStack(info)) io.out(line);
    io.out('stop with: durable-rlhf services down');
  } else if (action === 'down') {
    const stopped = await stack.stackDown(o);
    io.out(stopped.length ? `stopped ${stopped.join(', ')} (data kept in ${o.dataDir})` : 'stack was not running');
  } else if (action === 'status') {
    for (const s of await stack.stackStatus(o)) {
      const state = s.state === 'port-taken' ? 'stopped (port in use by another process)' : s.state;
      io.out(`${s.name.padEnd(9)} ${state.padEnd(8)} ${s.address}${s.pid ? `  pid ${s.pid}` : ''}  log ${s.log}`);
    }
  } else {
    throw new UsageError(`unknown services action '${action}': usage: ${servicesSpec.usage}`);
  }
}

export async function workerCommand(args: ParsedArgs): Promise<void> {
  const { loadConfig, parseQueueRoles } = await import('../../shared/config');
  const { runWorkers } = await import('../../workers/main');
  const config = loadConfig();
  const roles = typeof args.flags.queues === 'string' ? parseQueueRoles(args.flags.queues, '--queues') : config.worker.roles;
  await runWorkers(config, roles);
}

export function optionsCommand(_args: ParsedArgs, io: Io): Promise<void> {
  const leaves = [...recipeLeaves(RECIPE_DEFAULTS).entries()];
  const width = Math.max(...leaves.map(([k]) => k.length));
  for (const [key, value] of leaves) io.out(`${key.padEnd(width)}  ${JSON.stringify(value)}`);
  io.out('');
  io.out(`short keys: any unambiguous last segment (beta → online.beta); aliases: ${Object.entries(ALIASES).map(([a, p]) => `${a} → ${p}`).join(', ')}`);
  return Promise.resolve();
}
