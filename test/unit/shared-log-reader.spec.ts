import { LogFollower, type LogSource } from '../../src/application/log/log-follower.js';
import type { CheckpointStore, RecordedEvent } from '../../src/application/ports/event-store.port.js';
import { SharedLogReader } from '../../src/application/log/shared-log-reader.js';

/**
 * A global log with whatever positions it is given (gap-free like SQLite, or with gaps like
 * EventStoreDB's commit positions). It counts the reads that reach it, can hold them until
 * released, and wakes its listeners in microtasks after an append, as the real stores do.
 */
class ScriptedLog implements LogSource {
  readonly events: RecordedEvent[] = [];
  readonly reads: { after: number; limit: number }[] = [];
  /** Events handed out by all reads together. */
  returned = 0;
  held: (() => void)[] | null = null;
  failNext: Error | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(positions: readonly number[] = []) {
    for (const position of positions) this.events.push(recorded(position));
  }

  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    this.reads.push({ after, limit });
    const failure = this.failNext;
    this.failNext = null;
    // What the store holds now, as a database read at the call would see it.
    const found = this.events.filter((event) => event.position > after).slice(0, limit);
    if (this.held !== null) await new Promise<void>((resolve) => this.held?.push(resolve));
    if (failure !== null) throw failure;
    this.returned += found.length;
    return found;
  }

  onAppended(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Appends after the current head (or at the positions given) and wakes the listeners. */
  append(...positions: number[]): void {
    const head = this.events.at(-1)?.position ?? 0;
    const added = positions.length > 0 ? positions : [head + 1];
    for (const position of added) this.events.push(recorded(position));
    for (const listener of [...this.listeners]) queueMicrotask(listener);
  }

  /** Appends and calls the listeners before returning, as a store might (the port allows it). */
  appendAndWakeAtOnce(position: number): void {
    this.events.push(recorded(position));
    for (const listener of [...this.listeners]) listener();
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = null;
    for (const resolve of waiting) resolve();
  }
}

function recorded(position: number): RecordedEvent {
  return {
    eventId: `e${position}`,
    type: 'OrderPlaced',
    data: { orderId: `o${position}` },
    metadata: { occurredAt: '2026-11-26T10:00:00.000Z', correlationId: 'c', causationId: null, schemaVersion: 1 },
    streamName: `order-o${position}`,
    revision: 0,
    position,
  };
}

const positionsOf = (events: readonly RecordedEvent[]): number[] => events.map((event) => event.position);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the shared log reader', () => {
  describe('on a gap-free log (SQLite, memory, PostgreSQL)', () => {
    it('answers a second follower at the same position from what the first one read', async () => {
      const log = new ScriptedLog(range(1, 10));
      const reader = new SharedLogReader(log);

      expect(positionsOf(await reader.readAll(0, 500))).toEqual(range(1, 10));
      await nextMacrotask();
      expect(positionsOf(await reader.readAll(0, 1000))).toEqual(range(1, 10));
      expect(positionsOf(await reader.readAll(4, 3))).toEqual([5, 6, 7]);

      // The second request asked the store only whether anything came after 10.
      expect(log.reads).toEqual([
        { after: 0, limit: 500 },
        { after: 10, limit: 990 },
      ]);
      expect(log.returned).toBe(10);
    });

    it('reads only the new events from the store once the cached ones are used up', async () => {
      const log = new ScriptedLog(range(1, 5));
      const reader = new SharedLogReader(log);
      await reader.readAll(0, 500);
      await nextMacrotask();
      log.append(6);
      log.append(7);

      expect(positionsOf(await reader.readAll(3, 500))).toEqual([4, 5, 6, 7]);
      expect(log.reads).toEqual([
        { after: 0, limit: 500 },
        { after: 5, limit: 498 },
      ]);
    });
  });

  describe('on a log with gaps between positions (EventStoreDB commit positions)', () => {
    const positions = [10, 20, 35, 36, 50, 71];

    it('answers from the cache after the start of what it read or after any event in it', async () => {
      const log = new ScriptedLog(positions);
      const reader = new SharedLogReader(log);
      expect(positionsOf(await reader.readAll(0, 500))).toEqual(positions);
      await nextMacrotask();

      expect(positionsOf(await reader.readAll(0, 2))).toEqual([10, 20]);
      expect(positionsOf(await reader.readAll(20, 3))).toEqual([35, 36, 50]);
      expect(positionsOf(await reader.readAll(50, 500))).toEqual([71]);
      expect(log.reads).toHaveLength(2); // the first read, and the look past 71 for anything newer
      expect(log.reads[1]).toEqual({ after: 71, limit: 499 });
    });

    it('asks the store about a position that is not an event it read', async () => {
      const log = new ScriptedLog(positions);
      const reader = new SharedLogReader(log);
      await reader.readAll(10, 500);
      await nextMacrotask();

      expect(positionsOf(await reader.readAll(25, 500))).toEqual([35, 36, 50, 71]);
      expect(positionsOf(await reader.readAll(5, 500))).toEqual(positions);
      expect(log.reads.map((read) => read.after)).toEqual([10, 25, 5]);
    });
  });

  it('never returns a batch shorter than asked while the store has more', async () => {
    const log = new ScriptedLog(range(1, 3));
    const reader = new SharedLogReader(log);
    await reader.readAll(0, 500); // caches 1-3
    await nextMacrotask();
    for (const position of range(4, 12)) log.append(position);

    // 2 and 3 are cached; the rest of the batch comes from the store, from 3 on.
    expect(positionsOf(await reader.readAll(1, 5))).toEqual([2, 3, 4, 5, 6]);
    expect(log.reads.at(-1)).toEqual({ after: 3, limit: 3 });
    // Shorter than asked only when the store had no more.
    expect(positionsOf(await reader.readAll(6, 500))).toEqual(range(7, 12));
    expect(log.reads.at(-1)).toEqual({ after: 6, limit: 500 });
  });

  it('serves a follower far behind from the store without dropping what the others use', async () => {
    const log = new ScriptedLog(range(1, 30));
    const reader = new SharedLogReader(log, { capacity: 10 });
    expect(positionsOf(await reader.readAll(20, 500))).toEqual(range(21, 30));
    await nextMacrotask();

    const behind: number[] = [];
    let after = 0;
    for (;;) {
      const batch = await reader.readAll(after, 8);
      behind.push(...positionsOf(batch));
      if (batch.length < 8) break;
      after = batch[batch.length - 1].position;
      await nextMacrotask();
    }
    expect(behind).toEqual(range(1, 30));
    // 1-8, 9-16 and 17-24 from the store, 25-30 from the cache, then a look past 30.
    expect(log.reads.map((read) => read.after)).toEqual([20, 0, 8, 16, 30]);

    // A follower at the head still finds its events cached.
    const reads = log.reads.length;
    expect(positionsOf(await reader.readAll(25, 500))).toEqual(range(26, 30));
    expect(log.reads.length).toBe(reads + 1); // only the look past 30
    expect(log.reads.at(-1)?.after).toBe(30);
  });

  it('keeps at most its capacity of recent events, and asks the store for older ones', async () => {
    const log = new ScriptedLog(range(1, 25));
    const reader = new SharedLogReader(log, { capacity: 10 });
    await reader.readAll(0, 500); // keeps 16-25
    await nextMacrotask();

    expect(positionsOf(await reader.readAll(15, 3))).toEqual([16, 17, 18]);
    expect(log.reads).toHaveLength(1);
    expect(positionsOf(await reader.readAll(14, 3))).toEqual([15, 16, 17]);
    expect(log.reads.at(-1)).toEqual({ after: 14, limit: 3 });
  });

  describe('with requests at the same moment', () => {
    it('lets followers woken by one append share one store read', async () => {
      const log = new ScriptedLog(range(1, 4));
      const reader = new SharedLogReader(log);
      log.hold();

      const answers = [reader.readAll(0, 500), reader.readAll(0, 500), reader.readAll(0, 1000), reader.readAll(0, 500)];
      log.release();

      for (const answer of await Promise.all(answers)) expect(positionsOf(answer)).toEqual(range(1, 4));
      expect(log.reads).toEqual([{ after: 0, limit: 500 }]);
    });

    it('goes on reading for a follower that asked for more than the shared read did', async () => {
      const log = new ScriptedLog(range(1, 7));
      const reader = new SharedLogReader(log);

      const [small, large] = await Promise.all([reader.readAll(0, 3), reader.readAll(0, 6)]);

      expect(positionsOf(small)).toEqual([1, 2, 3]);
      expect(positionsOf(large)).toEqual(range(1, 6));
      expect(log.reads).toEqual([
        { after: 0, limit: 3 },
        { after: 3, limit: 3 },
      ]);
    });

    it('does not share a read begun before an append with a follower that the append woke', async () => {
      const log = new ScriptedLog(range(1, 2));
      const reader = new SharedLogReader(log);
      log.hold();

      const early = reader.readAll(2, 500);
      log.appendAndWakeAtOnce(3);
      const woken = reader.readAll(2, 500);
      log.release();

      expect(positionsOf(await early)).toEqual([]);
      expect(positionsOf(await woken)).toEqual([3]);
      expect(log.reads).toHaveLength(2);
    });

    it('does not share a read still in flight with a request made later', async () => {
      const log = new ScriptedLog(range(1, 2));
      const reader = new SharedLogReader(log);
      log.hold();

      const early = reader.readAll(2, 500);
      await nextMacrotask();
      log.events.push(recorded(3)); // committed by another process: no wake-up here
      const later = reader.readAll(2, 500);
      log.release();

      expect(positionsOf(await early)).toEqual([]);
      expect(positionsOf(await later)).toEqual([3]);
      expect(log.reads).toHaveLength(2);
    });

    it('hands a failed read to every follower that shared it, and caches nothing from it', async () => {
      const log = new ScriptedLog(range(1, 3));
      const reader = new SharedLogReader(log);
      log.failNext = new Error('disk I/O error');

      const answers = await Promise.allSettled([reader.readAll(0, 500), reader.readAll(0, 500)]);

      expect(answers.map((answer) => answer.status)).toEqual(['rejected', 'rejected']);
      expect(positionsOf(await reader.readAll(0, 500))).toEqual([1, 2, 3]);
      expect(log.reads).toHaveLength(2);
    });
  });

  describe('under log followers', () => {
    const checkpointsInMemory = (): CheckpointStore => {
      const saved = new Map<string, number>();
      return {
        load: async (name) => (saved.has(name) ? { position: saved.get(name) ?? 0, state: null } : null),
        save: async (name, position) => void saved.set(name, position),
      };
    };

    /** The service's four followers (same batch sizes) on `source`, while 300 events are appended to `log`. */
    async function followFour(log: ScriptedLog, source: LogSource, positionOf: (i: number) => number): Promise<{ seen: number[][]; expected: number[] }> {
      const checkpoints = checkpointsInMemory();
      const seen: number[][] = [];
      const followers = (
        [
          ['open-work', 500],
          ['process-manager', 500],
          ['refund-executor', 500],
          ['projections', 1000],
        ] as const
      ).map(([name, batchSize], index) => {
        seen.push([]);
        return new LogFollower(source, checkpoints, {
          name,
          batchSize,
          pollIntervalMs: 60_000,
          handle: async (events) => {
            seen[index].push(...positionsOf(events));
            // Followers take different times over a batch, as the real ones do.
            if (name === 'projections') await nextMacrotask();
          },
        });
      });
      const expected: number[] = [];
      const append = (i: number): void => {
        log.append(positionOf(i));
        expected.push(positionOf(i));
      };
      for (let i = 1; i <= 20; i++) append(i);
      await Promise.all(followers.map((follower) => follower.start()));
      for (let i = 21; i <= 300; i++) {
        append(i);
        if (i % 7 === 0) await nextMacrotask();
      }
      await Promise.all(followers.map((follower) => follower.waitFor(positionOf(300))));
      for (const follower of followers) await follower.stop();
      return { seen, expected };
    }

    it.each([
      ['gap-free', (i: number) => i],
      ['with gaps', (i: number) => i * 7 + (i % 3)],
    ])('hands each of four followers every event in order, reading each event from the store once (%s)', async (_, positionOf) => {
      const log = new ScriptedLog();
      const { seen, expected } = await followFour(log, new SharedLogReader(log, { capacity: 50 }), positionOf);

      expect(expected).toHaveLength(300);
      for (const positions of seen) expect(positions).toEqual(expected);
      expect(log.returned).toBe(300);
    });

    it('without it, the same four followers read every event four times', async () => {
      const log = new ScriptedLog();
      const { seen, expected } = await followFour(log, log, (i) => i);

      for (const positions of seen) expect(positions).toEqual(expected);
      expect(log.returned).toBe(4 * 300);
    });
  });
});
