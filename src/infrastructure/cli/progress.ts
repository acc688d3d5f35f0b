/**
 * The progress line of a long command (verify, replay, rebuild, export) on a terminal: events
 * done, rate and time left, rewritten in place on stderr. Nothing at all when stderr is not a
 * terminal (piped, redirected, in CI), so logs and scripts never see it.
 */

/** How a command reports how far it is; `position` is the log position reached. */
export interface Progress {
  update(events: number, position: number): void;
  /** Removes the line (the command's summary follows). */
  end(): void;
}

export const NO_PROGRESS: Progress = { update: () => undefined, end: () => undefined };

/** Where a progress line is drawn: stderr when it is a terminal. */
export interface ProgressTerminal {
  write(text: string): void;
  readonly columns?: number;
}

/** Redrawn at most this often: a terminal can't show more, and each redraw costs a write. */
const REDRAW_MS = 250;

/**
 * A line like `verify: 412,000 events (41%), 98,213 events/s, about 6 s left`. `range` is the log
 * positions the command goes through (first and last); without it there is no percentage.
 */
export class TerminalProgress implements Progress {
  private readonly started = performance.now();
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private shown = false;

  constructor(
    private readonly terminal: ProgressTerminal,
    private readonly label: string,
    private readonly range: { readonly from: number; readonly to: number } | null,
  ) {}

  update(events: number, position: number): void {
    const now = performance.now();
    // The first update is drawn at once, so even a short run shows that it is working.
    if (this.shown && now - this.lastDrawn < REDRAW_MS) return;
    this.lastDrawn = now;
    this.draw(this.line(events, position, (now - this.started) / 1000));
  }

  end(): void {
    if (this.shown) this.terminal.write('\r\x1b[K');
    this.shown = false;
  }

  /** Clears the line before something else is printed to the same terminal; the next update redraws it. */
  clear(): void {
    if (!this.shown) return;
    this.terminal.write('\r\x1b[K');
    this.shown = false;
    this.lastDrawn = Number.NEGATIVE_INFINITY;
  }

  private line(events: number, position: number, seconds: number): string {
    const rate = seconds > 0 ? events / seconds : 0;
    const parts = [`${this.label}: ${events.toLocaleString('en-US')} events`];
    if (this.range !== null && this.range.to > this.range.from) {
      const done = Math.min(1, Math.max(0, (position - this.range.from) / (this.range.to - this.range.from)));
      parts[0] += ` (${Math.floor(done * 100)}%)`;
      parts.push(`${Math.round(rate).toLocaleString('en-US')} events/s`);
      // Time left from the rate so far, over what remains of the log's positions.
      const left = done > 0 ? (seconds * (1 - done)) / done : Number.NaN;
      parts.push(Number.isFinite(left) ? `about ${duration(left)} left` : 'time left unknown');
    } else {
      parts.push(`${Math.round(rate).toLocaleString('en-US')} events/s`);
    }
    return parts.join(', ');
  }

  private draw(line: string): void {
    // A pseudo-terminal may report 0 columns (no size set): taken as 80.
    const width = Math.max(20, (this.terminal.columns || 80) - 1);
    this.terminal.write(`\r${line.length > width ? line.slice(0, width) : line}\x1b[K`);
    this.shown = true;
  }
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.ceil((seconds % 3600) / 60)} min`;
}
