// `start` and `sweep`: validate the options locally (same schema as the workflow), then start rlhfPipeline.
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { RecipeInput, RecipeOptions } from '../../shared/recipe';
import { RlhfSweep } from '../../shared/search-attributes';
import type { CommandSpec, ParsedArgs } from '../args';
import { checkWorkflowId, defaultRunId, PIPELINE_WORKFLOW, uiUrl, withClient, type Io } from '../context';
import { CliError, failureChain, oneLine, UsageError } from '../errors';
import { applySets, describePoint, expandGrid, loadConfigFile, parseGridAxis, pointInput, validateRecipe, type GridPoint } from '../recipe-options';
import { renderResults, resultRows } from '../format';
import { metricsQuery, type IterationMetrics } from '../../shared/messages';

const optionFlags = {
  config: { kind: 'string', value: 'FILE', help: 'recipe options from a .json/.yaml file (any subset; the rest are defaults)' },
  set: { kind: 'list', value: 'KEY=VALUE', help: 'override one option, e.g. --set online.beta=0.2 (short keys like beta work when unambiguous)' },
} as const;

export const startSpec: CommandSpec = {
  name: 'start',
  summary: 'Start one RLHF pipeline run (SFT → reward model → online iterative DPO → evaluation).',
  usage: 'durable-rlhf start [--config FILE] [--set KEY=VALUE ...] [--id ID] [--wait]',
  positionals: [0, 0],
  flags: {
    ...optionFlags,
    id: { kind: 'string', value: 'ID', help: 'workflow id, also the run name in S3 (default rlhf-<utc time>)' },
    wait: { kind: 'boolean', help: 'wait for the run to finish and print its results table' },
  },
  details: 'examples:\n  durable-rlhf start --set online.iterations=3 --set beta=0.2 --wait\n  durable-rlhf start --config recipe.yaml --id my-run',
};

export const sweepSpec: CommandSpec = {
  name: 'sweep',
  summary: 'Start one run per point of a parameter grid (ids sweep-<id>/run-<i>, search attribute RlhfSweep=<id>).',
  usage: 'durable-rlhf sweep --grid KEY=V1,V2,... [--grid ...] [--config FILE] [--set KEY=VALUE ...] [--max-parallel N] [--id ID] [--wait]',
  positionals: [0, 0],
  flags: {
    grid: { kind: 'list', value: 'KEY=V1,V2', help: 'one axis of the grid, e.g. --grid beta=0.05,0.1,0.3 --grid lr=5e-5,1e-4' },
    ...optionFlags,
    'max-parallel': { kind: 'int', value: 'N', help: 'run at most N at once: start N, then the next as one finishes (the command stays up)' },
    id: { kind: 'string', value: 'ID', help: 'sweep id (default sweep-<utc time>)' },
    wait: { kind: 'boolean', help: 'wait for every run to finish' },
  },
  details: 'examples:\n  durable-rlhf sweep --grid beta=0.05,0.1,0.3 --grid lr=5e-5,1e-4 --max-parallel 2\n  durable-rlhf list --sweep <id>',
};

/** The workflow input of rlhfPipeline (RlhfPipelineInput): the user's partial options, flat, plus an optional
 * run name; the workflow resolves the defaults itself. */
export function pipelineInput(recipe: RecipeInput, run?: string): Record<string, unknown> {
  return { ...(recipe as Record<string, unknown>), ...(run ? { run } : {}) };
}

/** Options from --config and --set, validated; returns the partial input and the resolved options. */
export async function optionsFromArgs(args: ParsedArgs): Promise<{ input: RecipeInput; recipe: RecipeOptions }> {
  const base = typeof args.flags.config === 'string' ? await loadConfigFile(args.flags.config) : {};
  const input = applySets(base, (args.flags.set as string[] | undefined) ?? []);
  return { input, recipe: validateRecipe(input, typeof args.flags.config === 'string' ? `options (${args.flags.config} + --set)` : 'options') };
}

function explainStartError(err: unknown): never {
  const text = oneLine(err);
  if (/search attribute/i.test(text)) throw new CliError(`${text} (register the Rlhf* search attributes: the dev stack does it at start, \`npm run stack -- up\`)`);
  throw err;
}

export interface StartedRun {
  handle: WorkflowHandle;
  /** false when a workflow with this id already exists (a re-issued sweep): running, or completed. */
  started: boolean;
}

export async function startPipeline(
  client: Client,
  recipe: RecipeOptions,
  input: RecipeInput,
  opts: { workflowId: string; run?: string; summary?: string; details?: string; sweepId?: string },
): Promise<StartedRun> {
  try {
    const handle = await client.workflow.start(PIPELINE_WORKFLOW, {
      taskQueue: recipe.execution.taskQueues.control,
      workflowId: opts.workflowId,
      args: [pipelineInput(input, opts.run)],
      ...(opts.summary ? { staticSummary: opts.summary } : {}),
      ...(opts.details ? { staticDetails: opts.details } : {}),
      // A re-issued sweep keeps completed points and reruns failed/terminated ones (resuming from their artifacts).
      ...(opts.sweepId ? { typedSearchAttributes: [{ key: RlhfSweep, value: opts.sweepId }], workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' as const } : {}),
    });
    return { handle, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { handle: client.workflow.getHandle(opts.workflowId), started: false };
    return explainStartError(err);
  }
}

/** The metrics table of a finished run: its result's `metrics`, else the metrics query. */
async function printResults(client: Client, handle: WorkflowHandle, result: unknown, io: Io): Promise<void> {
  try {
    const fromResult = (result as { metrics?: unknown } | null)?.metrics;
    const metrics = Array.isArray(fromResult)
      ? (fromResult as IterationMetrics[])
      : await client.connection.withDeadline(Date.now() + 15_000, () => handle.query(metricsQuery));
    for (const line of renderResults(resultRows(metrics))) io.out(line);
  } catch (err) {
    io.err(`(could not read the metrics table: ${oneLine(err)})`);
  }
}

export async function startCommand(args: ParsedArgs, io: Io): Promise<void> {
  const { input, recipe } = await optionsFromArgs(args);
  const id = checkWorkflowId((args.flags.id as string | undefined) ?? defaultRunId());
  await withClient(async (client, cfg) => {
    const { handle, started } = await startPipeline(client, recipe, input, { workflowId: id, summary: `durable-rlhf run ${id}` });
    if (!started) throw new CliError(`workflow '${id}' is already running; pick another --id or watch it with \`durable-rlhf watch ${id}\``);
    io.out(`started ${id} on ${recipe.execution.taskQueues.control}`);
    io.out(`  watch:  durable-rlhf watch ${id}`);
    io.out(`  UI:     ${uiUrl(cfg, id)}`);
    if (args.flags.wait) {
      let result: unknown;
      try {
        result = await handle.result();
        io.out(`${id} completed`);
      } catch (err) {
        throw new CliError(`${id} failed: ${failureChain(err)}`);
      }
      await printResults(client, handle, result, io);
    }
  });
}

// ------------------------------------------------------------------ sweep

/** Workflow id of grid point i. */
export function sweepRunId(sweepId: string, index: number): string {
  return `sweep-${sweepId}/run-${index}`;
}

/**
 * Starts `count` runs with at most `maxParallel` unfinished at once: start that many, then the next each time
 * one finishes. `start(i)` returns a promise that settles when run i finishes. Without a limit, starts all.
 * Resolves when every run has been started (and, with `waitAll`, finished).
 */
export async function scheduleRuns(count: number, maxParallel: number | undefined, start: (i: number) => Promise<{ finished: Promise<unknown> }>, waitAll = false): Promise<void> {
  const limit = maxParallel ?? count;
  const running = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    while (running.size >= limit) await Promise.race(running);
    const { finished } = await start(i);
    const tracked: Promise<unknown> = finished.then(
      () => running.delete(tracked),
      () => running.delete(tracked),
    );
    running.add(tracked);
  }
  if (waitAll) await Promise.all(running);
}

export async function sweepCommand(args: ParsedArgs, io: Io): Promise<void> {
  const grids = (args.flags.grid as string[] | undefined) ?? [];
  if (grids.length === 0) throw new UsageError('sweep needs at least one --grid KEY=V1,V2,...');
  const points = expandGrid(grids.map(parseGridAxis));
  const { input } = await optionsFromArgs(args);
  // Validate every point before starting anything.
  const runs = points.map((point, i) => {
    const runInput = pointInput(input, point);
    return { point, input: runInput, recipe: validateRecipe(runInput, `grid point ${i} (${describePoint(point)})`) };
  });
  const sweepId = (args.flags.id as string | undefined) ?? defaultRunId().replace(/^rlhf-/, '');
  checkWorkflowId(sweepRunId(sweepId, 0));
  const maxParallel = args.flags['max-parallel'] as number | undefined;
  await withClient(async (client, cfg) => {
    io.out(`sweep ${sweepId}: ${runs.length} runs${maxParallel ? `, at most ${maxParallel} at once` : ''}`);
    let returned = false; // runs still going when the command returns are not reported (the connection closes)
    await scheduleRuns(
      runs.length,
      maxParallel,
      async (i) => {
        const run = runs[i] as (typeof runs)[number];
        const workflowId = sweepRunId(sweepId, i);
        const { handle, started } = await startPipeline(client, run.recipe, run.input, {
          workflowId,
          sweepId,
          summary: `sweep ${sweepId} · run ${i} · ${describePoint(run.point)}`,
          details: pointDetails(sweepId, i, run.point),
        });
        const state = started ? 'started' : (await handle.describe()).status.name === 'RUNNING' ? 'running' : 'done   ';
        io.out(`  ${state} ${workflowId}  ${describePoint(run.point)}`);
        const finished =
          maxParallel || args.flags.wait
            ? handle.result().then(
                () => returned || io.out(`  finished ${workflowId}`),
                (err: unknown) => returned || io.out(`  ended ${workflowId}: ${failureChain(err)}`),
              )
            : Promise.resolve();
        return { finished };
      },
      Boolean(args.flags.wait),
    );
    returned = true;
    io.out(`list: durable-rlhf list --sweep ${sweepId}`);
    io.out(`UI:   ${uiUrl(cfg, '').replace(/\/workflows\/$/, '/workflows')}?query=${encodeURIComponent(`RlhfSweep="${sweepId}"`)}`);
  });
}

function pointDetails(sweepId: string, index: number, point: GridPoint): string {
  return [`**sweep** \`${sweepId}\` · run ${index}`, '', '| option | value |', '|---|---|', ...Object.entries(point).map(([k, v]) => `| \`${k}\` | \`${JSON.stringify(v)}\` |`)].join('\n');
}

