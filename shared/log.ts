// Worker-process logging: one line per entry (`time LEVEL message key=value ...`) at RLHF_LOG_LEVEL.
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

export const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /\s|=|"/.test(value) ? JSON.stringify(value) : value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Formats a log entry as one line. */
export function formatLogEntry(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = Object.entries(entry.meta ?? {})
    .filter(([k, v]) => v !== undefined && k !== 'sdkComponent')
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  // Webpack's bundle report is many lines of build detail: keep its first line.
  const message = entry.message.split('\n')[0] ?? '';
  return `${time} ${entry.level.padEnd(5)} ${message}${meta ? ` ${meta}` : ''}`;
}

/** A logger that prints one line per entry to stderr (ERROR/WARN) or stdout. */
export function oneLineLogger(level: LogLevel): DefaultLogger {
  return new DefaultLogger(level, (entry) => {
    const line = formatLogEntry(entry);
    if (entry.level === 'ERROR' || entry.level === 'WARN') console.error(line);
    else console.log(line);
  });
}

/** Installs the Temporal Runtime with the one-line logger. Call once, before creating connections/workers. */
export function installRuntimeLogger(level: LogLevel): void {
  Runtime.install({ logger: oneLineLogger(level) });
}
