// A small declarative argv parser: each command declares its flags; unknown flags, missing values and bad
// numbers are one-line UsageErrors. Supports `--flag value`, `--flag=value`, repeatable flags and `--`.
import { UsageError } from './errors';

export type FlagKind = 'string' | 'boolean' | 'int' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  /** Shown in --help. */
  help: string;
  /** Placeholder for the value in --help (e.g. FILE). */
  value?: string;
  short?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /** Positional arguments: [min, max]. */
  positionals: [number, number];
  /** Extra help text (examples). */
  details?: string;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | number | string[] | undefined>;
  positionals: string[];
  help: boolean;
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  let help = false;
  const byShort = new Map(Object.entries(spec.flags).flatMap(([name, f]) => (f.short ? [[f.short, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const rawName = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : (byShort.get(arg.slice(1)) ?? arg.slice(1));
    const name = rawName in spec.flags ? rawName : undefined;
    const flag = name ? spec.flags[name] : undefined;
    if (!name || !flag) {
      const known = Object.keys(spec.flags).map((f) => `--${f}`);
      throw new UsageError(`unknown flag '${arg.slice(0, eq < 0 ? undefined : eq)}' for '${spec.name}'${known.length ? ` (flags: ${known.join(', ')})` : ' (it takes no flags)'}; see --help`);
    }
    if (flag.kind === 'boolean') {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`--${name} takes no value (or =true/=false), got '${v}'`);
        flags[name] = v === 'true';
      } else flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new UsageError(`--${name} needs a value${flag.value ? ` (${flag.value})` : ''}`);
      i++;
    }
    if (flag.kind === 'int') {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a positive integer, got '${value}'`);
      flags[name] = Number(value);
    } else if (flag.kind === 'list') {
      flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    } else {
      if (flags[name] !== undefined) throw new UsageError(`--${name} given twice`);
      flags[name] = value;
    }
  }
  if (!help) {
    const [min, max] = spec.positionals;
    if (positionals.length < min) throw new UsageError(`'${spec.name}' needs ${min === 1 ? 'an argument' : `${min} arguments`}: usage: ${spec.usage}`);
    if (positionals.length > max) throw new UsageError(`unexpected argument '${positionals[max]}' for '${spec.name}': usage: ${spec.usage}`);
  }
  return { flags, positionals, help };
}

export function helpText(spec: CommandSpec): string {
  const lines = [`usage: ${spec.usage}`, '', spec.summary];
  const entries = Object.entries(spec.flags);
  if (entries.length > 0) {
    lines.push('', 'flags:');
    const rows = entries.map(([name, f]) => [`${f.short ? `-${f.short}, ` : ''}--${name}${f.kind === 'boolean' ? '' : ` ${f.value ?? 'VALUE'}`}`, f.help + (f.kind === 'list' ? ' (repeatable)' : '')]);
    const width = Math.max(...rows.map((r) => (r[0] as string).length));
    for (const [a, b] of rows) lines.push(`  ${(a as string).padEnd(width)}  ${b}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(Math.max(10, ...entries.map(([n]) => n.length + 2)))}  show this help`);
  if (spec.details) lines.push('', spec.details);
  return lines.join('\n');
}
