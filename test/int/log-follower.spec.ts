import { randomUUID } from 'node:crypto';
import { LogFollower } from '../../src/application/log/log-follower.js';
import type { EventStore, NewEvent, RecordedEvent } from '../../src/application/ports/event-store.port.js';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { withDeadline } from '../support/wait.js';

/** Long enough that only a wake-up on append, never the poll, can explain progress. */
const NO_POLL = 60_000;

describe('LogFollower', () => {
  let store: MemoryEventStore;
  const followers: LogFollower[] = [];

  beforeEach(() => {
    store = new MemoryEventStore();
  });
  afterEach(async () => {
    for (const follower of followers.splice(0)) await follower.stop();
  });

  function follow(
    handle: (events: readonly RecordedEvent[]) => Promise<void>,
    options: { batchSize?: number; pollIntervalMs?: number; onError?: (error: unknown) => void; from?: EventStore } = {},
  ): LogFollower {
    const follower = new LogFollower(options.from ?? store, store, {
      name: 'projector',
      handle,
      batchSize: options.batchSize,
      pollIntervalMs: options.pollIntervalMs ?? NO_POLL,
      onError: options.onError ?? (() => {}),
    });
    followers.push(follower);
    return follower;
  }

  async function appendEvents(count: number): Promise<number> {
    let last = 0;
    for (let i = 0; i < count; i++) last = (await store.append(`order-${randomUUID()}`, [event()], 'no-stream')).lastPosition;
    return last;
  }

  it('starts after its stored checkpoint and catches up in order before start() resolves', async () => {
    await appendEvents(5);
    await store.save('projector', 2);
    const batches: number[][] = [];

    const follower = follow(async (events) => void batches.push(events.map((e) => e.position)), { batchSize: 2 });
    await follower.start();

    expect(batches).toEqual([[3, 4], [5]]);
    expect(follower.position).toBe(5);
    expect(await store.load('projector')).toMatchObject({ position: 5 });
  });

  it('with minReadIntervalMs, handles a burst of appends in a few larger batches and misses none', async () => {
    const batches: number[][] = [];
    const follower = new LogFollower(store, store, {
      name: 'paced',
      handle: async (events) => void batches.push(events.map((e) => e.position)),
      pollIntervalMs: NO_POLL,
      minReadIntervalMs: 200,
    });
    followers.push(follower);
    await follower.start();
    // 40 appends, each one waking the follower, within well under one interval of each other.
    const last = await appendEvents(40);
    await follower.waitFor(last, 5_000);
    expect(batches.flat()).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // The first wake-up reads at once; the rest of the burst waits for the interval and comes in one read.
    expect(batches.length).toBeLessThanOrEqual(3);
  });

  it('with minReadIntervalMs, stop() does not wait out the interval', async () => {
    const handled: number[] = [];
    const follower = new LogFollower(store, store, {
      name: 'paced-long',
      handle: async (events) => void handled.push(...events.map((e) => e.position)),
      pollIntervalMs: NO_POLL,
      minReadIntervalMs: 600_000,
    });
    followers.push(follower);
    const first = await appendEvents(1);
    await follower.start(); // catches up at once
    await appendEvents(1); // read no sooner than ten minutes after the last read
    await follower.stop(); // resolves now (jest's timeout would fail the test otherwise)
    expect(handled).toEqual([first]);
  });

  it('stores the state it is given with its checkpoint and hands it back on the next start', async () => {
    await appendEvents(3);
    let count = 0;
    const options = {
      name: 'counter',
      handle: async (events: readonly RecordedEvent[]) => void (count += events.length),
      restore: (state: unknown) => void (count = state === null ? 0 : (state as { count: number }).count),
      snapshot: () => ({ count }),
      pollIntervalMs: NO_POLL,
    };
    const first = new LogFollower(store, store, options);
    await first.start();
    await first.stop();
    expect(await store.load('counter')).toEqual({ position: 3, state: { count: 3 } });

    const last = await appendEvents(2);
    const second = new LogFollower(store, store, options);
    followers.push(second);
    await second.start();
    await second.waitFor(last, 5_000);
    expect(count).toBe(5);
  });

  it('with a checkpoint interval, stores what it has handled when it stops', async () => {
    const follower = new LogFollower(store, store, {
      name: 'lazy',
      handle: async () => undefined,
      checkpointIntervalMs: 3_600_000,
      pollIntervalMs: NO_POLL,
    });
    await follower.start();
    const first = await appendEvents(1);
    await follower.waitFor(first, 5_000);
    const last = await appendEvents(3);
    await follower.waitFor(last, 5_000);
    expect(await store.load('lazy')).toMatchObject({ position: first });
    await follower.stop();
    expect(await store.load('lazy')).toMatchObject({ position: last });
  });

  it('wakes on an append without waiting for the poll', async () => {
    const seen: number[] = [];
    const follower = follow(async (events) => void seen.push(...events.map((e) => e.position)));
    await follower.start();

    const last = await appendEvents(3);
    await follower.waitFor(last, 5_000);

    expect(seen).toEqual([1, 2, 3]);
  });

  it('finds appends it was not told about (another process) by polling', async () => {
    // The same store, but its appends wake nobody: as if another process had made them.
    const silent: EventStore = Object.assign(Object.create(store) as EventStore, { onAppended: () => () => {} });
    const seen: number[] = [];
    const follower = follow(async (events) => void seen.push(...events.map((e) => e.position)), {
      from: silent,
      pollIntervalMs: 10,
    });
    await follower.start();

    const last = await appendEvents(2);
    await follower.waitFor(last, 5_000);

    expect(seen).toEqual([1, 2]);
  });

  it('resumes after stop and start from its checkpoint, handling nothing twice', async () => {
    const seen: number[] = [];
    const handle = async (events: readonly RecordedEvent[]): Promise<void> => void seen.push(...events.map((e) => e.position));
    const first = follow(handle);
    await first.start();
    await first.waitFor(await appendEvents(3), 5_000);
    await first.stop();

    await appendEvents(3);
    const second = follow(handle);
    await second.start();

    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(second.position).toBe(6);
  });

  it('retries a failing batch, unchanged, until it passes, and never skips or checkpoints past it', async () => {
    await appendEvents(5);
    const attempts: number[][] = [];
    const handled: number[] = [];
    const checkpointsWhileFailing: unknown[] = [];
    const errors: unknown[] = [];
    const follower = follow(
      async (events) => {
        const positions = events.map((e) => e.position);
        attempts.push(positions);
        if (positions.includes(3) && attempts.filter((a) => a.includes(3)).length <= 2) {
          checkpointsWhileFailing.push((await store.load('projector'))?.position);
          throw new Error('projection database down');
        }
        handled.push(...positions);
      },
      { batchSize: 2, onError: (error) => errors.push(error) },
    );

    await follower.start();

    expect(handled).toEqual([1, 2, 3, 4, 5]);
    expect(attempts).toEqual([[1, 2], [3, 4], [3, 4], [3, 4], [5]]);
    expect(checkpointsWhileFailing).toEqual([2, 2]);
    expect(errors).toEqual([new Error('projection database down'), new Error('projection database down')]);
  });

  it('stops in the middle of retrying without moving past the failing batch', async () => {
    await appendEvents(1);
    let failures = 0;
    let failed!: () => void;
    const failedOnce = new Promise<void>((resolve) => (failed = resolve));
    const follower = follow(
      async () => {
        throw new Error('always failing');
      },
      { onError: () => (failures++, failed()) },
    );
    const starting = follower.start(); // never catches up: the batch keeps failing
    await withDeadline(failedOnce);

    await follower.stop();
    await starting;

    expect(failures).toBeGreaterThanOrEqual(1);
    expect(follower.position).toBe(0);
    expect(await store.load('projector')).toBeNull();
  });

  it('lets the batch in flight finish and checkpoints it before stop() resolves', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inHandle = new Promise<void>((resolve) => (entered = resolve));
    const follower = follow(async () => {
      entered();
      await gate;
    });
    await follower.start();
    await appendEvents(1);
    await withDeadline(inHandle);

    let stopped = false;
    const stopping = follower.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);

    release();
    await stopping;
    expect(await store.load('projector')).toMatchObject({ position: 1 });
  });

  it('handles one batch at a time while appends keep arriving', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const seen: number[] = [];
    const follower = follow(
      async (events) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(...events.map((e) => e.position));
        inFlight--;
      },
      { batchSize: 1 },
    );
    await follower.start();

    const positions = await Promise.all(
      Array.from({ length: 20 }, async () => (await store.append(`order-${randomUUID()}`, [event()], 'no-stream')).lastPosition),
    );
    await follower.waitFor(Math.max(...positions), 5_000);

    expect(maxInFlight).toBe(1);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('rejects waitFor when the position is not reached in time', async () => {
    const follower = follow(async () => {});
    await follower.start();

    await expect(follower.waitFor(1, 20)).rejects.toThrow(/position 1 not reached/);
  });

  it('rejects pending waitFor calls on stop', async () => {
    const follower = follow(async () => {});
    await follower.start();
    const waiting = follower.waitFor(1, 60_000);

    await follower.stop();

    await expect(waiting).rejects.toThrow(/stopped/);
  });
});

function event(): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'OrderPlaced',
    data: { amount: 1999 },
    metadata: { occurredAt: '2025-01-02T03:04:05.678Z', correlationId: 'c-1', causationId: null, schemaVersion: 1 },
  };
}

