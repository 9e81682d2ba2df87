// Live redraw of a block of lines: in a TTY the block is rewritten in place; otherwise (CI, pipes, logs) only
// the lines that changed are printed, with a timestamp, and the whole block again every `everyMs`.

export interface LiveOutput {
  write(text: string): void;
  isTTY?: boolean;
}

/** Blank-line separated sections of `next` that differ from `prev` (a changed table is printed whole). */
export function changedSections(prev: string[], next: string[]): string[] {
  const sections = (lines: string[]): string[][] =>
    lines.reduce<string[][]>((acc, line) => {
      if (line.trim() === '') acc.push([]);
      else (acc[acc.length - 1] as string[]).push(line);
      return acc;
    }, [[]]);
  const before = sections(prev).map((s) => s.join('\n'));
  return sections(next)
    .filter((s, i) => s.length > 0 && s.join('\n') !== before[i])
    .flat();
}

export class LiveView {
  private shown = 0;
  private last = '';
  private lastLines: string[] = [];
  private lastFull = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly out: LiveOutput = process.stdout,
    private readonly everyMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  update(lines: string[]): void {
    const text = lines.join('\n');
    if (this.out.isTTY) {
      if (text === this.last) return;
      const clear = this.shown > 0 ? `\x1b[${this.shown}A\x1b[J` : '';
      this.out.write(`${clear}${text}\n`);
      this.shown = lines.length;
    } else {
      const t = this.now();
      const full = t - this.lastFull >= this.everyMs;
      const changed = full ? lines : changedSections(this.lastLines, lines);
      if (changed.length > 0) {
        this.out.write(`[${new Date(t).toISOString().slice(11, 19)}] ${changed.join('\n           ')}\n`);
        if (full) this.lastFull = t;
      }
      this.lastLines = lines;
    }
    this.last = text;
  }

  /** Forget the block so the next output starts below it. */
  release(): void {
    this.shown = 0;
    this.last = '';
    this.lastLines = [];
    this.lastFull = Number.NEGATIVE_INFINITY;
  }
}
