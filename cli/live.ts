// Live redraw of a block of lines: in a TTY the block is rewritten in place; otherwise (CI, pipes, logs) a
// block is printed only when it changed or every `everyMs`, so logs get periodic progress lines.

export interface LiveOutput {
  write(text: string): void;
  isTTY?: boolean;
}

export class LiveView {
  private shown = 0;
  private last = '';
  private lastPrint = 0;

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
      if (text === this.last && t - this.lastPrint < this.everyMs) return;
      this.out.write(`[${new Date(t).toISOString().slice(11, 19)}] ${lines.join('\n           ')}\n`);
      this.lastPrint = t;
    }
    this.last = text;
  }

  /** Forget the block so the next output starts below it. */
  release(): void {
    this.shown = 0;
    this.last = '';
  }
}
