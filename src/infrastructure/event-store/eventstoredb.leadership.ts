import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  type AppendExpectedRevision,
  BACKWARDS,
  END,
  type EventStoreDBClient,
  jsonEvent,
  NO_STREAM,
  NoStreamError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import type { Leadership } from '../../application/ports/leadership.port.js';
import { keepLastEvents } from './eventstoredb-checkpoints.js';
import { LEADER_STREAM } from './eventstoredb-mapping.js';

export interface EventStoreDbLeadershipOptions {
  /** The event store's connection (EventStoreDbEventStore.client): the lease opens none of its own. */
  readonly client: EventStoreDBClient;
  /** The event store's namespace: each log has one leader. */
  readonly namespace: string;
  /** Who holds the lease, as written in its events (default host, pid and a random suffix). */
  readonly instanceId?: string;
  /** How long a lease stands unrenewed before a standby takes it (default 10 s). */
  readonly ttlMs?: number;
  /** How often the leader renews and a standby reads the lease (default 1 s); less than ttlMs / 2. */
  readonly renewMs?: number;
  /** Told of failures inside timers (reads, appends, handlers); default console.error. */
  readonly onError?: (error: unknown) => void;
}

/** Lease events, as they stand in the lease stream; `data` is a LeaseData. */
export const LEASE_TAKEN = 'PayguardLeaseTaken';
export const LEASE_RENEWED = 'PayguardLeaseRenewed';
export const LEASE_RELEASED = 'PayguardLeaseReleased';
/** `$maxCount` of the lease stream: only the last event matters; older ones are scavenged. */
export const LEASES_KEPT = 10;

/** What a lease event says: who holds it and how long a standby must wait for it to expire. */
export interface LeaseData {
  readonly instanceId: string;
  readonly ttlMs: number;
}

type Handlers = { onElected: () => Promise<void>; onDeposed: () => Promise<void> };

/**
 * Leader election on EventStoreDB: a lease in one small stream, `<namespace>payguard_leader`
 * (kept out of the global log by the store's filter, `$maxCount` 10), kept with expected
 * revisions only: no clock is ever written or compared between machines.
 *
 * - The leader appends a renewal every `renewMs`, expecting the revision it wrote last. A refusal
 *   (wrong expected version) means another instance took the lease: it is deposed at once
 *   (unless the last event is its own renewal, written although its answer was lost).
 * - A leader whose last accepted renewal was SENT more than `ttlMs / 2` ago deposes itself
 *   (onDeposed), whether its appends fail, hang or are merely slow.
 * - A standby reads the stream's last revision every `renewMs`. When that revision has stayed the
 *   same for `ttlMs` (the larger of its own and the one the lease event carries) on its own
 *   monotonic clock, it appends a takeover expecting that revision: of several standbys exactly
 *   one is accepted. A release (resign) or no stream at all is taken at once.
 *
 * WHY THIS IS SAFE WITHOUT SYNCHRONISED CLOCKS. Let the old leader's last accepted append be
 * sent at S (on its clock) and committed as revision r. A standby can only have read r after it
 * was committed, so after S; it waits `ttlMs` on its own clock from that read before it appends
 * a takeover. The old leader stops at S + ttlMs / 2 on its own clock. Each side measures only an
 * interval on its own monotonic clock (performance.now): offsets between machines never enter,
 * only rates do, and the old leader has stopped first unless its clock runs at less than half
 * the standby's rate. Any renewal committed after r changes the revision and restarts the
 * standby's wait; a takeover committed first makes the old leader's next renewal refused. What is
 * left: a process frozen (stop-the-world pause, SIGSTOP) for more than ttlMs / 2 between its
 * deadline and its check of it, which can overlap a new leader briefly. Every reaction is
 * idempotent (see the Leadership port), so such an overlap costs duplicate work, not effects.
 *
 * Failover: a crashed leader is replaced after ttlMs to ttlMs + renewMs (default 10-11 s); a
 * resigning one at the standby's next read (within renewMs).
 */
export class EventStoreDbLeadership implements Leadership {
  private readonly client: EventStoreDBClient;
  private readonly stream: string;
  private readonly instanceId: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly onError: (error: unknown) => void;
  private handlers: Handlers | null = null;
  private leading = false;
  private stopped = true;
  /** Bumped on every election and deposition: an answer that arrives for an older term is ignored. */
  private term = 0;
  /** The revision this instance wrote last while leading. */
  private revision = -1n;
  /** The lease revision a standby last saw change, when (its clock) and the wait it owes it. */
  private seen: { readonly revision: bigint; readonly at: number; readonly ttlMs: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private deadline: NodeJS.Timeout | null = null;
  /** The step (read, takeover or renewal) in flight; a tick while one is in flight is skipped. */
  private inFlight: Promise<void> | null = null;
  /** onElected / onDeposed, in order, one at a time. */
  private transitions: Promise<void> = Promise.resolve();
  private limited = false;

  constructor(options: EventStoreDbLeadershipOptions) {
    this.client = options.client;
    this.stream = `${options.namespace}${LEADER_STREAM}`;
    this.instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.ttlMs = options.ttlMs ?? 10_000;
    this.renewMs = options.renewMs ?? 1_000;
    this.onError = options.onError ?? ((error: unknown) => console.error('eventstoredb leadership:', error));
    if (!(this.renewMs > 0) || !(this.ttlMs > 2 * this.renewMs)) {
      throw new RangeError(`leader lease: renewMs (${this.renewMs}) must be > 0 and ttlMs (${this.ttlMs}) > 2 * renewMs`);
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Reads the lease once (taking it if free) and keeps campaigning; resolves after onElected if elected now. */
  async campaign(handlers: Handlers): Promise<void> {
    if (!this.stopped) return;
    this.handlers = handlers;
    this.stopped = false;
    this.seen = null;
    await this.tick();
    if (this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.renewMs);
    this.timer.unref();
    await this.transitions;
  }

  /** Stops campaigning; a leader appends a release, so a standby takes over at its next read. */
  async resign(): Promise<void> {
    this.stopTimers();
    await this.inFlight;
    if (!this.leading) return;
    this.leading = false;
    this.term++;
    try {
      await this.append(LEASE_RELEASED, this.revision);
    } catch (error) {
      // Refused: someone took the lease already. Otherwise it expires after ttlMs.
      if (!(error instanceof WrongExpectedVersionError)) this.onError(error);
    }
  }

  /** resign(). */
  close(): Promise<void> {
    return this.resign();
  }

  /**
   * Stops every timer and forgets leadership WITHOUT releasing the lease or calling onDeposed,
   * as a process that dies would: a standby takes over once the lease has expired (the tests'
   * crash; also a last resort when the connection is known to be gone).
   */
  abandon(): void {
    this.stopTimers();
    this.leading = false;
    this.term++;
  }

  private stopTimers(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.timer = null;
    this.deadline = null;
  }

  /** One renewal (leader) or one read (standby); never two at once. Never throws. */
  private tick(): Promise<void> {
    if (this.stopped || this.inFlight !== null) return this.inFlight ?? Promise.resolve();
    const step = (this.leading ? this.renew() : this.stand())
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.inFlight = null;
      });
    this.inFlight = step;
    return step;
  }

  private async renew(): Promise<void> {
    const term = this.term;
    const sentAt = performance.now();
    let revision: bigint;
    try {
      revision = await this.append(LEASE_RENEWED, this.revision);
    } catch (error) {
      if (term !== this.term) return;
      if (!(error instanceof WrongExpectedVersionError)) throw error; // the deadline armed by the last accepted renewal still stands
      // Refused. Unless the lease's last event is this instance's own renewal, written although
      // its answer was lost (then nobody took over since, and the deadline stays where it is):
      const last = await this.readLast().catch(() => null);
      if (term !== this.term) return;
      if (last !== null && last.type !== LEASE_RELEASED && leaseHolder(last.data) === this.instanceId) {
        this.revision = last.revision;
        return;
      }
      return this.depose('renewal refused: another instance holds the lease');
    }
    // Deposed meanwhile (the deadline passed): a late acceptance counts for nothing.
    if (term !== this.term) return;
    this.revision = revision; // what resign()'s release expects
    if (!this.stopped) this.armDeadline(sentAt, term);
  }

  private async stand(): Promise<void> {
    if (!this.limited) await this.limitLeases();
    const last = await this.readLast();
    if (this.stopped) return;
    if (last === null) return this.takeOver(NO_STREAM);
    if (last.type === LEASE_RELEASED) return this.takeOver(last.revision);
    if (this.seen?.revision !== last.revision) {
      this.seen = { revision: last.revision, at: performance.now(), ttlMs: Math.max(this.ttlMs, leaseTtl(last.data)) };
      return;
    }
    if (performance.now() - this.seen.at >= this.seen.ttlMs) await this.takeOver(last.revision);
  }

  private async takeOver(expected: AppendExpectedRevision): Promise<void> {
    const before = this.term;
    const sentAt = performance.now();
    let revision: bigint;
    try {
      revision = await this.append(LEASE_TAKEN, expected);
    } catch (error) {
      this.seen = null;
      if (error instanceof WrongExpectedVersionError) return; // another standby got there first
      throw error;
    }
    this.seen = null;
    if (before !== this.term) return; // abandoned meanwhile: the lease just taken expires unrenewed
    this.revision = revision;
    this.leading = true;
    const term = ++this.term;
    if (this.stopped) return; // resign() is waiting for this step and releases the lease
    this.armDeadline(sentAt, term);
    this.transition('onElected');
  }

  private depose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.term++;
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    this.onError(new Error(`leader lease lost (${reason}): stopping background work`));
    this.transition('onDeposed');
  }

  /** Deposes this leader ttlMs / 2 after `sentAt` unless a later renewal, accepted, moves it. */
  private armDeadline(sentAt: number, term: number): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    const left = sentAt + this.ttlMs / 2 - performance.now();
    this.deadline = setTimeout(() => {
      if (term === this.term) this.depose(`no renewal accepted for ${this.ttlMs / 2} ms`);
    }, Math.max(0, left));
    this.deadline.unref();
  }

  private transition(handler: keyof Handlers): void {
    const handlers = this.handlers;
    this.transitions = this.transitions.then(() => handlers?.[handler]()).catch((error: unknown) => this.onError(error));
  }

  private async append(type: string, expectedRevision: AppendExpectedRevision): Promise<bigint> {
    const data: LeaseData = { instanceId: this.instanceId, ttlMs: this.ttlMs };
    const written = await this.bounded(
      this.client.appendToStream(this.stream, jsonEvent({ type, data: { ...data } }), { expectedRevision, deadline: this.ttlMs / 2 }),
      `append ${type}`,
    );
    return written.nextExpectedRevision;
  }

  private async readLast(): Promise<{ revision: bigint; type: string; data: unknown } | null> {
    const read = async (): Promise<{ revision: bigint; type: string; data: unknown } | null> => {
      const events = this.client.readStream(this.stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1, deadline: this.ttlMs / 2 });
      let last: { revision: bigint; type: string; data: unknown } | null = null;
      // Read to the end: leaving a client read early leaves its gRPC call open.
      for await (const { event } of events) if (event) last = { revision: event.revision, type: event.type, data: event.data };
      return last;
    };
    try {
      return await this.bounded(read(), 'read the lease');
    } catch (error) {
      if (error instanceof StreamNotFoundError || error instanceof NoStreamError) return null;
      throw error;
    }
  }

  /** Sets `$maxCount` on the lease stream once; a refusal (ACL) is reported, not fatal. */
  private async limitLeases(): Promise<void> {
    this.limited = true;
    try {
      await this.bounded(keepLastEvents(this.client, this.stream, LEASES_KEPT), 'set $maxCount');
    } catch (error) {
      this.onError(new Error(`could not set $maxCount on ${this.stream}; old lease events will pile up`, { cause: error }));
    }
  }

  /**
   * The call, or a failure after ttlMs / 2: the client's own deadline does not reach every call
   * (an append through BatchAppend rides a long-lived stream), and a step that never ends would
   * stop this instance from campaigning again, or resign() from returning.
   */
  private bounded<T>(call: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`leader lease: ${what}: no answer within ${this.ttlMs / 2} ms`)), this.ttlMs / 2);
      timer.unref();
    });
    call.catch(() => undefined); // a late failure after the timeout is nobody's business
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }
}

function leaseHolder(data: unknown): string | undefined {
  const holder = typeof data === 'object' && data !== null ? (data as Partial<LeaseData>).instanceId : undefined;
  return typeof holder === 'string' ? holder : undefined;
}

function leaseTtl(data: unknown): number {
  const ttl = typeof data === 'object' && data !== null ? (data as Partial<LeaseData>).ttlMs : undefined;
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : 0;
}
