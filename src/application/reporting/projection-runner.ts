import { narrow } from '../event-sourcing/upcaster.js';
import type { EventStore, RecordedEvent } from '../ports/event-store.port.js';
import {
  PROJECTION_NAMES,
  type ProjectionCheckpoint,
  type ProjectionName,
  type ProjectionStore,
  type ProjectionUpdate,
  type ReportChange,
} from '../ports/projection-store.port.js';
import { changesFor, mergeChanges, projectionSettings, PROJECTION_VERSIONS } from './report-changes.js';
import type { ReportDays } from './report-days.js';

/**
 * Applies the log to the reporting projections: each batch becomes one call to the projection
 * store, which commits the rows and every touched checkpoint together, so a batch is applied once.
 * Each projection keeps its own checkpoint; a batch gives each only the events past it.
 * Used by the service (behind a LogFollower, see report-projections.ts) and by the audit CLI.
 */
export class ProjectionRunner {
  private readonly positions = new Map<ProjectionName, number>();
  /** Changes read but not yet committed, per projection: from `after` (its checkpoint) to `position`. */
  private readonly staged = new Map<ProjectionName, { after: number; position: number; changes: ReportChange[] }>();

  /** `days`: the report time zone's days (REPORT_TIMEZONE), which the settlement is by. */
  constructor(
    private readonly projections: ProjectionStore,
    private readonly days: ReportDays,
    private readonly names: readonly ProjectionName[] = PROJECTION_NAMES,
  ) {}

  /**
   * Reads the checkpoints, resets any projection built by another version of its logic or under
   * other settings (another report time zone), and returns the lowest checkpoint (where following
   * the log must start).
   */
  async load(): Promise<number> {
    const stored = await this.projections.checkpoints();
    for (const name of this.names) {
      const settings = projectionSettings(name, this.days);
      if (stored[name].version !== PROJECTION_VERSIONS[name] || stored[name].settings !== settings) {
        await this.projections.reset(name, PROJECTION_VERSIONS[name], settings);
        this.positions.set(name, 0);
      } else {
        this.positions.set(name, stored[name].position);
      }
    }
    return Math.min(...this.names.map((name) => this.position(name)));
  }

  /** Last log position applied to `name` (0 before load). */
  position(name: ProjectionName): number {
    return this.positions.get(name) ?? 0;
  }

  /**
   * Applies a batch of the log, in order. `limits` stops a projection at a position (the audit
   * CLI rebuilds each projection up to where the live one stands).
   */
  async apply(batch: readonly RecordedEvent[], limits?: Partial<Record<ProjectionName, number>>): Promise<void> {
    this.stage(batch, limits);
    await this.commit();
  }

  /** Turns a batch into changes, held (each projection's past the last staged position) until commit(). */
  private stage(batch: readonly RecordedEvent[], limits?: Partial<Record<ProjectionName, number>>): void {
    if (batch.length === 0) return;
    // A type this release does not know changes no report; the staged position still moves past it.
    const events = batch.map(narrow).filter((event) => event !== null);
    const last = batch[batch.length - 1].position;
    for (const projection of this.names) {
      const staged = this.staged.get(projection);
      const after = staged?.position ?? this.position(projection);
      const until = Math.min(last, limits?.[projection] ?? Number.POSITIVE_INFINITY);
      if (until <= after) continue;
      const changes = staged?.changes ?? [];
      for (const event of events) {
        if (event.position > after && event.position <= until) changes.push(...changesFor(projection, event, this.days));
      }
      this.staged.set(projection, { after: staged?.after ?? after, position: until, changes });
    }
  }

  /**
   * Commits what was staged: one call to the store, merged changes, every checkpoint with them.
   * The positions move when the call is made (staging goes on from there); if it fails, they are
   * read back from the store, which applied all of it or nothing.
   */
  private async commit(): Promise<void> {
    const updates: ProjectionUpdate[] = [...this.staged].map(([projection, { after, position, changes }]) => ({
      projection,
      after,
      position,
      changes: mergeChanges(changes),
    }));
    this.staged.clear();
    if (updates.length === 0) return;
    for (const { projection, position } of updates) this.positions.set(projection, position);
    try {
      this.remember(await this.projections.apply(updates));
    } catch (error) {
      // Another process moved a checkpoint (a rebuild, or a second leader), or the call failed: start again from the truth.
      this.remember(await this.projections.checkpoints());
      throw error;
    }
  }

  /** True when some projection stands before `position` - 1, so a batch starting there can't serve it. */
  behind(position: number): boolean {
    return this.names.some((name) => this.position(name) < position - 1);
  }

  /**
   * Reads the log and applies it until every projection has reached its target (default: the
   * head of the log when called). Reads `batchSize` events at a time (small batches stay young
   * for the garbage collector) and commits every `commitEvery` events (fewer, larger transactions,
   * whose changes to one row merge; one commit runs while the next chunk is read). Returns how
   * many events it read.
   */
  async catchUp(
    store: EventStore,
    options: {
      targets?: Partial<Record<ProjectionName, number>>;
      batchSize?: number;
      commitEvery?: number;
      /** Told after each batch read: events read so far, and the position reached (a progress line). */
      onProgress?: (read: number, position: number) => void;
    } = {},
  ): Promise<number> {
    const head = await store.headPosition();
    const targets = Object.fromEntries(this.names.map((name) => [name, options.targets?.[name] ?? head])) as Record<ProjectionName, number>;
    const batchSize = options.batchSize ?? 1000;
    const commitEvery = options.commitEvery ?? batchSize;
    let read = 0;
    let uncommitted = 0;
    let after = Math.min(...this.names.map((name) => this.position(name)));
    const end = Math.max(...this.names.map((name) => targets[name]));
    // One commit may be in flight while the next chunk is read: with a store that writes on
    // another thread (or server), reading and writing overlap.
    let inFlight: Promise<void> = Promise.resolve();
    try {
      while (after < end) {
        const batch = await store.readAll(after, Math.min(batchSize, end - after));
        if (batch.length === 0) break;
        this.stage(batch, targets);
        read += batch.length;
        uncommitted += batch.length;
        after = batch[batch.length - 1].position;
        options.onProgress?.(read, after);
        if (uncommitted >= commitEvery) {
          await inFlight;
          inFlight = this.commit();
          uncommitted = 0;
        }
      }
    } finally {
      await inFlight;
    }
    await this.commit();
    return read;
  }

  private remember(checkpoints: Record<ProjectionName, ProjectionCheckpoint>): void {
    for (const name of this.names) this.positions.set(name, checkpoints[name].position);
  }
}
