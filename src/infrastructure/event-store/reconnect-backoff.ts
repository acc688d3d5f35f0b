const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

export interface ReconnectBackoffOptions {
  /** Opens the lost connection again; a rejection is one failed try. */
  readonly reopen: () => Promise<void>;
  /** After a try that succeeded. */
  readonly onReopened: () => void;
  /** After a try that failed, before the next one is scheduled. */
  readonly onFailed: (error: unknown) => void;
}

/**
 * Re-opens a lost connection (the PostgreSQL LISTEN client, the EventStoreDB live subscription)
 * with exponential backoff: the delay doubles from 100 ms up to 5 s after each failed try, and
 * starts again at 100 ms once a try succeeds. One try is pending at a time; none starts after stop().
 */
export class ReconnectBackoff {
  private timer: NodeJS.Timeout | null = null;
  private delay = FIRST_DELAY_MS;
  private stopped = false;

  constructor(private readonly options: ReconnectBackoffOptions) {}

  /** Schedules the next try, unless one is pending already or the owner stopped. */
  schedule(): void {
    if (this.stopped || this.timer) return;
    const delay = this.delay;
    this.delay = Math.min(delay * 2, MAX_DELAY_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      this.options.reopen().then(
        () => {
          this.delay = FIRST_DELAY_MS;
          this.options.onReopened();
        },
        (error: unknown) => {
          this.options.onFailed(error);
          this.schedule();
        },
      );
    }, delay);
    this.timer.unref();
  }

  /** Cancels the pending try, and any later one. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
