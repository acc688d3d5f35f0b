import { NO_PROGRESS, TerminalProgress, type Progress } from './progress.js';

/** What a CLI command writes to, so tests can run commands in-process and read what they printed. */
export interface CliIo {
  /** Standard output (data: NDJSON, JSON, reports); resolves once the text may be written again. */
  out(text: string): Promise<void>;
  /** Standard error (progress, summaries for people). */
  err(text: string): void;
  /**
   * A progress line for a long command going through log positions `range` (null: unknown), shown
   * only where someone watches (stderr a terminal); absent or silent otherwise.
   */
  progress?(label: string, range: { from: number; to: number } | null): Progress;
}

/** A usage mistake or a store that is not there: exit code 2 with the message, no stack trace. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * The process's own streams, honouring back-pressure on stdout (an export can be large). A
 * progress line is drawn on stderr only when stderr is a terminal; when stdout is that terminal
 * too, the line is cleared before each output (and redrawn by the next update).
 */
export function processIo(): CliIo {
  let current: TerminalProgress | null = null;
  const clear = () => {
    if (process.stdout.isTTY) current?.clear();
  };
  return {
    progress: (label, range) => {
      if (!process.stderr.isTTY) return NO_PROGRESS;
      const progress = new TerminalProgress(process.stderr, label, range);
      current = progress;
      return progress;
    },
    out: (text) =>
      new Promise<void>((resolve, reject) => {
        clear();
        if (process.stdout.write(text)) return resolve();
        const onDrain = () => {
          process.stdout.off('error', onError);
          resolve();
        };
        const onError = (error: Error) => {
          process.stdout.off('drain', onDrain);
          reject(error);
        };
        process.stdout.once('drain', onDrain);
        process.stdout.once('error', onError);
      }),
    err: (text) => {
      current?.clear();
      process.stderr.write(text);
    },
  };
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

/** Seconds since `start` (a process.hrtime.bigint() reading). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
