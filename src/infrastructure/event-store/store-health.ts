import { randomUUID } from 'node:crypto';
import {
  ConcurrencyError,
  IdempotencyConflictError,
  StaleCheckpointError,
  type EventStore,
  type KeyedCheckpointStore,
} from '../../application/ports/event-store.port.js';
import { SqliteEventStore } from './sqlite.event-store.js';
import { checkSqliteFile, isCorruption, type IntegrityCheck } from './sqlite-integrity.js';

type Store = EventStore & KeyedCheckpointStore;

/** Whether the store can be written and read now, and if not, why. */
export type StoreStatus = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The last failure the store reported to the service (not a refusal: a concurrency conflict is the store working). */
interface SeenFailure {
  readonly reason: string;
  readonly at: number;
  /** When the store last stopped being ready: failures follow one another until a probe clears them. */
  readonly since: number;
  /** The file itself was found damaged since then: a small write elsewhere succeeding proves nothing. */
  readonly corrupt: boolean;
}

export interface StoreHealthOptions {
  /** How long a write-and-read probe may take before the store counts as not ready. */
  readonly probeBudgetMs?: number;
  /** How long an integrity check after a corruption error may take (SQLite). */
  readonly checkBudgetMs?: number;
  /** A successful probe is reused for this long when nothing failed since (the probe is a real write, and /health/ready is public). */
  readonly probeReuseMs?: number;
  /** An integrity check's result is reused for this long (it reads the whole file). */
  readonly checkReuseMs?: number;
  /** A failure keeps the store not ready at least this long, then until a probe succeeds. */
  readonly failureHoldMs?: number;
}

/** The checkpoint row the probe writes and reads back: a tiny write through the store's own write path. */
export const PROBE_CHECKPOINT = 'health-probe';

/**
 * Readiness of the event store, for GET /health/ready: a real write and read, within a budget,
 * and every failure the store reported to the service (a SQLITE_IOERR, SQLITE_FULL,
 * SQLITE_READONLY or SQLITE_CORRUPT from an append, a lost PostgreSQL connection). A failure
 * keeps the service not ready until a later probe succeeds, one begun at least failureHoldMs
 * after the last failure; after a corruption error also until `PRAGMA quick_check` (SQLite)
 * finds the file whole, since a damaged page that a failed append read is not one the probe's
 * small write touches.
 */
export class StoreHealth {
  private failure: SeenFailure | null = null;
  private lastSuccessAt = Number.NEGATIVE_INFINITY;
  private running: Promise<StoreStatus> | null = null;
  private integrity: { at: number; check: IntegrityCheck } | null = null;
  private checking: Promise<void> | null = null;
  private readonly probeBudgetMs: number;
  private readonly checkBudgetMs: number;
  private readonly probeReuseMs: number;
  private readonly checkReuseMs: number;
  private readonly failureHoldMs: number;

  constructor(
    private readonly store: Store,
    options: StoreHealthOptions = {},
  ) {
    this.probeBudgetMs = options.probeBudgetMs ?? 2_000;
    this.checkBudgetMs = options.checkBudgetMs ?? 5_000;
    this.probeReuseMs = options.probeReuseMs ?? 1_000;
    this.checkReuseMs = options.checkReuseMs ?? 30_000;
    this.failureHoldMs = options.failureHoldMs ?? 5_000;
  }

  /**
   * The same store with every call watched: what it rejects with, other than the port's own
   * refusals, is recorded as a failure. Given to the application in place of the store.
   */
  watch(store: Store): Store {
    const seen = <T>(during: string, promise: Promise<T>): Promise<T> =>
      promise.catch((error: unknown) => {
        this.record(error, during);
        throw error;
      });
    return {
      append: (streamName, events, expected) => seen('append', store.append(streamName, events, expected)),
      readStream: (streamName) => seen('read', store.readStream(streamName)),
      readAll: (after, limit) => seen('read', store.readAll(after, limit)),
      headPosition: () => seen('read', store.headPosition()),
      onAppended: (listener) => store.onAppended(listener),
      ping: () => store.ping(),
      close: () => store.close(),
      load: (name) => seen('checkpoint read', store.load(name)),
      save: (name, position, state) => seen('checkpoint write', store.save(name, position, state)),
      loadRows: (name) => seen('checkpoint read', store.loadRows(name)),
      saveRows: (name, position, changes) => seen('checkpoint write', store.saveRows(name, position, changes)),
    };
  }

  /** Records a failure the store reported; refusals (conflicts, stale checkpoints, bad arguments) are not failures. */
  record(error: unknown, during: string): void {
    if (error instanceof ConcurrencyError || error instanceof IdempotencyConflictError || error instanceof StaleCheckpointError || error instanceof RangeError) return;
    this.fail(`${during} failed at ${new Date().toISOString()}: ${describe(error)}`, Date.now(), isCorruption(error));
  }

  private fail(reason: string, at: number, corrupt: boolean): void {
    const previous = this.failure;
    this.failure = { reason, at, since: previous?.since ?? at, corrupt: corrupt || (previous?.corrupt ?? false) };
  }

  /** Probes the store (one probe at a time; concurrent callers share it). */
  status(): Promise<StoreStatus> {
    this.running ??= this.evaluate().finally(() => (this.running = null));
    return this.running;
  }

  private async evaluate(): Promise<StoreStatus> {
    const startedAt = Date.now();
    if (this.failure !== null || startedAt - this.lastSuccessAt >= this.probeReuseMs) {
      const probe = await this.probe();
      if (probe !== null) {
        this.fail(probe.reason, startedAt, probe.corrupt);
        return { ok: false, reason: probe.reason };
      }
      this.lastSuccessAt = startedAt;
    }
    const failure = this.failure;
    if (failure === null) return { ok: true };
    let reason = failure.reason;
    let verified = true;
    if (failure.corrupt && this.store instanceof SqliteEventStore) {
      // A damaged page that a failed call read is not one the probe's small write touches.
      const check = this.integrityCheckSince(failure.since, this.store.file);
      reason = `${reason}; ${describeCheck(check, this.checkBudgetMs)}`;
      verified = check.status === 'ok';
    }
    // A write that just failed is not undone by a small write that works: only a probe begun a
    // while after the last failure clears it, so failing appends keep the service out of rotation.
    if (failure.at >= this.lastSuccessAt || startedAt - failure.at < this.failureHoldMs) {
      return { ok: false, reason: `${reason} (not ready until a write probe succeeds ${this.failureHoldMs} ms or more after the last failure)` };
    }
    if (!verified) return { ok: false, reason };
    // Cleared, unless another failure came while this ran.
    if (this.failure === failure) this.failure = null;
    return this.failure === null ? { ok: true } : { ok: false, reason: this.failure.reason };
  }

  /** A ping, then a write and a read of the probe row, within the budget; null when all of it worked. */
  private async probe(): Promise<{ reason: string; corrupt: boolean } | null> {
    const started = Date.now();
    const token = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.probeBudgetMs)));
    const work = (async () => {
      await this.store.ping();
      await this.store.save(PROBE_CHECKPOINT, 0, { token, at: new Date(started).toISOString() });
      const read = await this.store.load(PROBE_CHECKPOINT);
      // Instances sharing a store (PostgreSQL, EventStoreDB) share the row: another's token is a read that worked too.
      if (typeof (read?.state as { token?: unknown } | null)?.token !== 'string') throw new Error('the probe row written was not read back');
      return 'done' as const;
    })();
    try {
      const outcome = await Promise.race([work, late]);
      // better-sqlite3 blocks the event loop: a slow write finishes before the timer can fire.
      const ms = Date.now() - started;
      if (outcome === 'late' || ms > this.probeBudgetMs) {
        work.catch(() => undefined);
        return { reason: `write probe did not finish within ${this.probeBudgetMs} ms`, corrupt: false };
      }
      return null;
    } catch (error) {
      return { reason: `write probe failed: ${describe(error)}`, corrupt: isCorruption(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The integrity check of this episode of failures: one begun after it started, run in the
   * background (a readiness call does not wait seconds for it), again at most once per
   * checkReuseMs while it finds damage.
   */
  private integrityCheckSince(since: number, file: string): IntegrityCheck {
    const now = Date.now();
    const current = this.integrity !== null && this.integrity.at >= since ? this.integrity : null;
    const due = current === null || (current.check.status !== 'ok' && now - current.at >= this.checkReuseMs);
    if (due && this.checking === null) {
      this.checking = checkSqliteFile(file, this.checkBudgetMs)
        .then((check) => void (this.integrity = { at: now, check }))
        .finally(() => (this.checking = null));
    }
    return current?.check ?? { status: 'unchecked', reason: 'an integrity check (PRAGMA quick_check) is running', ms: 0 };
  }
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  // Not `instanceof Error`: the native driver's errors may come from another realm (a test VM).
  const message = typeof (error as { message?: unknown })?.message === 'string' ? (error as { message: string }).message : String(error);
  return typeof code === 'string' && code !== '' && !message.includes(code) ? `${code}: ${message}` : message;
}

function describeCheck(check: IntegrityCheck, budgetMs: number): string {
  switch (check.status) {
    case 'corrupt':
      return `PRAGMA quick_check: ${check.problems.slice(0, 3).join('; ')}`;
    case 'cut-short':
      return `the integrity check did not finish within ${budgetMs} ms`;
    case 'unchecked':
      return check.reason;
    case 'absent':
      return 'the store file is gone';
    case 'ok':
      return 'PRAGMA quick_check: ok';
  }
}
