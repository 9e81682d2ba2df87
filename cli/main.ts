// durable-rlhf: the command line of the project (Temporal client + the local stack + the demo).
// Every failure is ONE line on stderr (`error: <message>`) and a non-zero exit code; never a stack trace
// (set DURABLE_RLHF_DEBUG=1 to see one).
import { pathToFileURL } from 'node:url';
import { helpText, parseArgs, type CommandSpec, type ParsedArgs } from './args';
import { processIo, type Io } from './context';
import { CliError, oneLine, UsageError } from './errors';
import { editDistance } from './recipe-options';

interface Command {
  spec: CommandSpec;
  /** Resolves to an exit code (default 0). */
  run: (args: ParsedArgs, io: Io) => Promise<void | number>;
}

/** Command table; each command's module is loaded only when it runs (fast --help and usage errors). */
async function commands(): Promise<Record<string, Command>> {
  const run = await import('./commands/run');
  const inspect = await import('./commands/inspect');
  const control = await import('./commands/control');
  const ops = await import('./commands/ops');
  const demo = await import('./commands/demo');
  const data = await import('./commands/data');
  const list: Command[] = [
    { spec: run.startSpec, run: run.startCommand },
    { spec: run.sweepSpec, run: run.sweepCommand },
    { spec: inspect.listSpec, run: inspect.listCommand },
    { spec: inspect.statusSpec, run: inspect.statusCommand },
    { spec: inspect.watchSpec, run: inspect.watchCommand },
    { spec: control.pauseSpec, run: control.pauseCommand },
    { spec: control.resumeSpec, run: control.resumeCommand },
    { spec: control.stopSpec, run: control.stopAfterIterationCommand },
    { spec: control.setNextSpec, run: control.setNextCommand },
    { spec: inspect.reportSpec, run: inspect.reportCommand },
    { spec: data.importSpec, run: data.importCommand },
    { spec: ops.servicesSpec, run: ops.servicesCommand },
    { spec: ops.workerSpec, run: (a) => ops.workerCommand(a) },
    { spec: ops.optionsSpec, run: ops.optionsCommand },
    { spec: demo.demoSpec, run: demo.demoCommand },
  ];
  return Object.fromEntries(list.map((c) => [c.spec.name, c]));
}

export function mainHelp(table: Record<string, Command>): string {
  const width = Math.max(...Object.keys(table).map((n) => n.length));
  return [
    'usage: durable-rlhf <command> [args] [--help]',
    '',
    'Online iterative RLHF (SFT → reward model → online DPO) as durable Temporal workflows.',
    '',
    'commands:',
    ...Object.values(table).map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
    '',
    'environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (and other TEMPORAL_* of @temporalio/envconfig), S3_ENDPOINT, S3_BUCKET, AWS_*',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    const table = await commands();
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? rest[0] : undefined;
      io.out(topic && table[topic] ? helpText(table[topic].spec) : mainHelp(table));
      return name === undefined ? 2 : 0;
    }
    const command = table[name];
    if (!command) {
      const near = Object.keys(table).filter((c) => editDistance(c, name) <= 2 || (name.length >= 3 && c.startsWith(name)));
      throw new UsageError(`unknown command '${name}'${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; run 'durable-rlhf --help'`);
    }
    const args = parseArgs(command.spec, rest);
    if (args.help) {
      io.out(helpText(command.spec));
      return 0;
    }
    return (await command.run(args, io)) ?? 0;
  } catch (err) {
    if (process.env.DURABLE_RLHF_DEBUG) io.err(err instanceof Error ? (err.stack ?? err.message) : String(err));
    io.err(`error: ${oneLine(err)}`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const code = await main(process.argv.slice(2));
  // Exit explicitly: open gRPC channels or S3 sockets must not keep a finished command alive.
  process.exit(code);
}
