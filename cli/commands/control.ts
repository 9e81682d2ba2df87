// `pause`, `resume`, `stop-after-iteration`, `set-next`: steer a running pipeline through its signals/update.
import { pauseSignal, resumeSignal, setNextIterationOptionsUpdate, stopAfterIterationSignal } from '../../shared/messages';
import { nextIterationOptionsProblems, RECIPE_DEFAULTS, type NextIterationOptions } from '../../shared/recipe';
import type { CommandSpec, ParsedArgs } from '../args';
import { existingHandle, withClient, type Io } from '../context';
import { CliError, failureChain, UsageError } from '../errors';
import { parseAssignment } from '../recipe-options';

export const pauseSpec: CommandSpec = {
  name: 'pause',
  summary: 'Pause a run at the next step boundary (running activities finish; nothing new starts).',
  usage: 'durable-rlhf pause <workflow-id> [--reason TEXT]',
  positionals: [1, 1],
  flags: { reason: { kind: 'string', value: 'TEXT', help: 'shown in the run status' } },
};
export const resumeSpec: CommandSpec = {
  name: 'resume',
  summary: 'Resume a paused run.',
  usage: 'durable-rlhf resume <workflow-id>',
  positionals: [1, 1],
  flags: {},
};
export const stopSpec: CommandSpec = {
  name: 'stop-after-iteration',
  summary: 'Finish iteration N (default: the current one), evaluate, and end the online loop there.',
  usage: 'durable-rlhf stop-after-iteration <workflow-id> [N]',
  positionals: [1, 2],
  flags: {},
};
export const setNextSpec: CommandSpec = {
  name: 'set-next',
  summary: 'Change beta, learningRate, k or temperatures for the iterations that start after now (validated by the workflow).',
  usage: 'durable-rlhf set-next <workflow-id> KEY=VALUE ...',
  positionals: [2, 5],
  flags: {},
  details: 'example: durable-rlhf set-next my-run beta=0.2 temperatures=1.0,0.7',
};

export async function pauseCommand(args: ParsedArgs, io: Io): Promise<void> {
  const id = args.positionals[0] as string;
  await withClient(async (client) => {
    const handle = await existingHandle(client, id);
    await handle.signal(pauseSignal, ...(typeof args.flags.reason === 'string' ? [args.flags.reason] : []));
    io.out(`pause requested for ${id} (takes effect at the next step boundary)`);
  });
}

export async function resumeCommand(args: ParsedArgs, io: Io): Promise<void> {
  const id = args.positionals[0] as string;
  await withClient(async (client) => {
    const handle = await existingHandle(client, id);
    await handle.signal(resumeSignal);
    io.out(`resume sent to ${id}`);
  });
}

export async function stopAfterIterationCommand(args: ParsedArgs, io: Io): Promise<void> {
  const id = args.positionals[0] as string;
  const raw = args.positionals[1];
  if (raw !== undefined && !/^[1-9]\d*$/.test(raw)) throw new UsageError(`iteration must be a positive integer, got '${raw}'`);
  await withClient(async (client) => {
    const handle = await existingHandle(client, id);
    await handle.signal(stopAfterIterationSignal, ...(raw !== undefined ? [Number(raw)] : []));
    io.out(`${id} will stop after ${raw !== undefined ? `iteration ${raw}` : 'the current iteration'}`);
  });
}

/** `beta=0.2` etc. → NextIterationOptions (only the keys the update accepts). */
export function parseNextOptions(assignments: string[]): NextIterationOptions {
  const change: Record<string, unknown> = {};
  for (const a of assignments) {
    const [path, value] = parseAssignment(a, 'set-next');
    const key = path.replace(/^online\./, '');
    if (!path.startsWith('online.') || !['beta', 'learningRate', 'k', 'temperatures'].includes(key)) {
      throw new UsageError(`'${path}' cannot be changed while running (allowed: beta, learningRate, k, temperatures)`);
    }
    change[key] = value;
  }
  const problems = nextIterationOptionsProblems(change, RECIPE_DEFAULTS.online);
  // k/temperature consistency depends on the run's own options: the workflow's validator has the last word.
  const local = problems.filter((p) => !/must be a multiple/.test(p));
  if (local.length > 0) throw new UsageError(local.join('; '));
  return change as NextIterationOptions;
}

export async function setNextCommand(args: ParsedArgs, io: Io): Promise<void> {
  const [id, ...assignments] = args.positionals as [string, ...string[]];
  const change = parseNextOptions(assignments);
  await withClient(async (client) => {
    const handle = await existingHandle(client, id);
    try {
      const result = await handle.executeUpdate(setNextIterationOptionsUpdate, { args: [change] });
      io.out(`accepted: applies from iteration ${result.appliesFromIteration}; pending ${JSON.stringify(result.pending)}`);
    } catch (err) {
      throw new CliError(`rejected by ${id}: ${failureChain(err)}`);
    }
  });
}
