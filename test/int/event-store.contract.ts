import { randomUUID } from 'node:crypto';
import {
  ConcurrencyError,
  type EventStore,
  IdempotencyConflictError,
  type KeyedCheckpointStore,
  type NewEvent,
  StaleCheckpointError,
} from '../../src/application/ports/event-store.port.js';
import { withDeadline } from '../support/wait.js';

export type ContractStore = EventStore & KeyedCheckpointStore;

export interface ContractOptions {
  /**
   * `gap-free-from-1` (default): the store numbers its events 1, 2, 3... in commit order, and
   * the suite checks the exact numbers. `increasing`: positions only increase strictly in
   * commit order (EventStoreDB's `$all` positions are log offsets, with gaps); the suite then
   * checks that, every event exactly once, and that `readAll(after)` resumes exactly after `after`.
   */
  readonly positions?: 'gap-free-from-1' | 'increasing';
}

/**
 * The promises of the event store port, run against one adapter.
 * `open` must give a fresh, EMPTY store (head 0; with gap-free positions the global log is
 * checked from position 1).
 * `reopen`, for durable adapters, opens again the storage of the latest `open`, after
 * the suite has closed it.
 */
export function describeEventStoreContract(
  name: string,
  open: () => Promise<ContractStore>,
  reopen?: () => Promise<ContractStore>,
  options: ContractOptions = {},
): void {
  const gapFree = (options.positions ?? 'gap-free-from-1') === 'gap-free-from-1';
  describe(`${name} (event store contract)`, () => {
    let store: ContractStore;
    const opened = new Set<ContractStore>();

    async function track(pending: Promise<ContractStore>): Promise<ContractStore> {
      const s = await pending;
      opened.add(s);
      return s;
    }
    async function close(s: ContractStore): Promise<void> {
      opened.delete(s);
      await s.close();
    }

    beforeEach(async () => {
      store = await track(open());
    });
    afterEach(async () => {
      for (const s of [...opened]) await close(s);
    });

    describe('streams', () => {
      it('records a new stream with revisions from 0 and reads it back as written', async () => {
        const stream = streamName();
        const events = [event('OrderPlaced', { amount: 1999, tags: ['a', 'ü'], nested: { x: null } }), event(), event()];

        const result = await store.append(stream, events, 'no-stream');

        const read = await store.readStream(stream);
        if (gapFree) {
          expect(result).toEqual({ lastRevision: 2, lastPosition: 3, duplicate: false });
          expect(read).toEqual(events.map((e, i) => ({ ...e, streamName: stream, revision: i, position: i + 1 })));
        } else {
          expect(read).toEqual(events.map((e, i) => ({ ...e, streamName: stream, revision: i, position: expect.any(Number) })));
          expectIncreasing(read.map((e) => e.position));
          expect(result).toEqual({ lastRevision: 2, lastPosition: read[2].position, duplicate: false });
        }
      });

      it('reads a stream that was never written as empty', async () => {
        expect(await store.readStream(streamName())).toEqual([]);
      });

      it('appends after the exact last revision', async () => {
        const stream = streamName();
        await store.append(stream, [event(), event()], 'no-stream');

        const result = await store.append(stream, [event()], 1);

        expect(result.lastRevision).toBe(2);
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      it('appends with `any` to a new stream and to an existing one', async () => {
        const stream = streamName();
        await store.append(stream, [event()], 'any');
        const result = await store.append(stream, [event()], 'any');

        expect(result.lastRevision).toBe(1);
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it('rejects `no-stream` for a stream that exists, and writes nothing', async () => {
        const stream = streamName();
        const first = await store.append(stream, [event(), event()], 'no-stream');

        const error = await store.append(stream, [event()], 'no-stream').catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error).toMatchObject({ streamName: stream, expected: 'no-stream', actual: 1 });
        expect(await store.readStream(stream)).toHaveLength(2);
        expect(await store.headPosition()).toBe(gapFree ? 2 : first.lastPosition);
      });

      it('rejects a stale expected revision and writes nothing', async () => {
        const stream = streamName();
        const first = await store.append(stream, [event(), event(), event()], 'no-stream');

        const error = await store.append(stream, [event(), event()], 1).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error).toMatchObject({ streamName: stream, expected: 1, actual: 2 });
        expect(await store.readStream(stream)).toHaveLength(3);
        expect(await store.headPosition()).toBe(gapFree ? 3 : first.lastPosition);
      });

      it('rejects an expected revision for a stream that does not exist', async () => {
        const stream = streamName();

        const error = await store.append(stream, [event()], 0).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error).toMatchObject({ expected: 0, actual: 'no-stream' });
        expect(await store.readStream(stream)).toEqual([]);
      });

      it('rejects an empty batch', async () => {
        await expect(store.append(streamName(), [], 'any')).rejects.toThrow();
        expect(await store.headPosition()).toBe(0);
      });

      it('hands out copies: changing what a read returned does not change the store', async () => {
        const stream = streamName();
        await store.append(stream, [event('Tested', { amount: 1 })], 'no-stream');

        const [read] = await store.readStream(stream);
        (read.data as { amount: number }).amount = 2;

        expect((await store.readStream(stream))[0].data).toEqual({ amount: 1 });
        expect((await store.readAll(0, 1))[0].data).toEqual({ amount: 1 });
      });
    });

    describe('idempotent append by event id', () => {
      it('treats a repeated batch as done: duplicate, nothing new, even with a now-stale expected revision', async () => {
        const stream = streamName();
        const batch = [event(), event()];
        const original = await store.append(stream, batch, 'no-stream');

        const repeat = await store.append(stream, batch, 'no-stream');

        expect(repeat).toEqual({ lastRevision: 1, lastPosition: gapFree ? 2 : original.lastPosition, duplicate: true });
        expect(await store.readStream(stream)).toHaveLength(2);
        expect(await store.readAll(0, 100)).toHaveLength(2);
      });

      it('answers a repeat with the original position and the stream as it is now', async () => {
        const stream = streamName();
        const first = [event()];
        const original = await store.append(stream, first, 'no-stream');
        await store.append(otherStream(), [event()], 'no-stream');
        const latest = await store.append(stream, [event()], 0);

        const repeat = await store.append(stream, first, 0);

        expect(repeat).toEqual({ lastRevision: 1, lastPosition: gapFree ? 1 : original.lastPosition, duplicate: true });
        expect(await store.headPosition()).toBe(gapFree ? 3 : latest.lastPosition);
      });

      it('still knows an event id long after it was appended', async () => {
        const stream = streamName();
        const early = event();
        await store.append(stream, [early], 'no-stream');
        for (let revision = 0; revision < 50; revision++) await store.append(stream, [event()], revision);

        const repeat = await store.append(stream, [early], 'any');

        expect(repeat.duplicate).toBe(true);
        expect(await store.readStream(stream)).toHaveLength(51);
      });

      it('rejects a batch that repeats an earlier one only in part, and writes nothing', async () => {
        const stream = streamName();
        const [a, b] = [event(), event()];
        const original = await store.append(stream, [a, b], 'no-stream');

        for (const partial of [[a, event()], [event(), b], [a, b, event()], [b, a]]) {
          await expect(store.append(stream, partial, 'any')).rejects.toBeInstanceOf(IdempotencyConflictError);
        }
        expect(await store.readStream(stream)).toHaveLength(2);
        expect(await store.headPosition()).toBe(gapFree ? 2 : original.lastPosition);
      });

      it('rejects a batch that carries the same event id twice', async () => {
        const stream = streamName();
        const twice = event();

        await expect(store.append(stream, [twice, twice], 'no-stream')).rejects.toBeInstanceOf(IdempotencyConflictError);
        expect(await store.readStream(stream)).toEqual([]);
      });

      it('allows the same event id in two different streams', async () => {
        const shared = event();
        const first = await store.append(streamName(), [shared], 'no-stream');

        const result = await store.append(otherStream(), [shared], 'no-stream');

        if (gapFree) expect(result).toEqual({ lastRevision: 0, lastPosition: 2, duplicate: false });
        else {
          expect(result).toEqual({ lastRevision: 0, lastPosition: expect.any(Number), duplicate: false });
          expect(result.lastPosition).toBeGreaterThan(first.lastPosition);
        }
      });
    });

    describe('global log', () => {
      it('starts empty at position 0', async () => {
        expect(await store.headPosition()).toBe(0);
        expect(await store.readAll(0, 10)).toEqual([]);
      });

      it(`numbers every event in commit order, ${gapFree ? 'gap-free from 1' : 'strictly increasing'}, across streams`, async () => {
        const [s1, s2] = [streamName(), otherStream()];
        const results = [
          await store.append(s1, [event('A'), event('B')], 'no-stream'),
          await store.append(s2, [event('C')], 'no-stream'),
          await store.append(s1, [event('D')], 1),
        ];

        const log = await store.readAll(0, 100);

        if (gapFree) {
          expect(log.map((e) => [e.position, e.type, e.streamName, e.revision])).toEqual([
            [1, 'A', s1, 0],
            [2, 'B', s1, 1],
            [3, 'C', s2, 0],
            [4, 'D', s1, 2],
          ]);
        } else {
          expect(log.map((e) => [e.type, e.streamName, e.revision])).toEqual([
            ['A', s1, 0],
            ['B', s1, 1],
            ['C', s2, 0],
            ['D', s1, 2],
          ]);
          expectIncreasing(log.map((e) => e.position));
          expect(results.map((r) => r.lastPosition)).toEqual([log[1].position, log[2].position, log[3].position]);
        }
        expect(await store.headPosition()).toBe(gapFree ? 4 : log[3].position);
      });

      it(`leaves ${gapFree ? 'no gap in positions' : 'nothing in the log'} where an append was rejected`, async () => {
        const stream = streamName();
        const kept = [event(), event()];
        await store.append(stream, [kept[0]], 'no-stream');
        await expect(store.append(stream, [event(), event()], 'no-stream')).rejects.toBeInstanceOf(ConcurrencyError);
        await store.append(stream, [kept[1]], 0);

        const log = await store.readAll(0, 100);
        if (gapFree) expect(log.map((e) => e.position)).toEqual([1, 2]);
        else {
          expect(log.map((e) => e.eventId)).toEqual(kept.map((e) => e.eventId));
          expectIncreasing(log.map((e) => e.position));
        }
      });

      it('reads only events after a position, at most `limit` of them', async () => {
        await store.append(streamName(), [event(), event(), event(), event(), event()], 'no-stream');
        // p[i]: position of the (i+1)th event
        const p = gapFree ? [1, 2, 3, 4, 5] : (await store.readAll(0, 100)).map((e) => e.position);
        if (!gapFree) {
          expect(p).toHaveLength(5);
          expectIncreasing(p);
        }

        expect((await store.readAll(p[1], 2)).map((e) => e.position)).toEqual([p[2], p[3]]);
        expect((await store.readAll(p[2], 100)).map((e) => e.position)).toEqual([p[3], p[4]]);
        expect(await store.readAll(p[4], 100)).toEqual([]);
        expect(await store.readAll(0, 0)).toEqual([]);
        if (!gapFree) {
          // Resuming one event at a time from each position read visits every event once.
          const visited: number[] = [];
          for (let after = 0, next = await store.readAll(0, 1); next.length > 0; next = await store.readAll(after, 1)) {
            after = next[0].position;
            visited.push(after);
          }
          expect(visited).toEqual(p);
        }
      });
    });

    describe('checkpoints', () => {
      it('has none for a follower that never saved', async () => {
        expect(await store.load('never-saved')).toBeNull();
      });

      it('keeps the position with its state, and the latest save wins', async () => {
        await store.save('projector', 3, { pending: ['o-1'], count: 2 });
        expect(await store.load('projector')).toEqual({ position: 3, state: { pending: ['o-1'], count: 2 } });

        await store.save('projector', 7);
        expect(await store.load('projector')).toEqual({ position: 7, state: null });
      });

      it('keeps each follower apart', async () => {
        await store.save('a', 1, 'a-state');
        await store.save('b', 2);

        expect(await store.load('a')).toEqual({ position: 1, state: 'a-state' });
        expect(await store.load('b')).toEqual({ position: 2, state: null });
      });
    });

    describe('keyed checkpoints (rows)', () => {
      /** The rows of a keyed checkpoint as a key -> value record, so the order rows come back in does not matter. */
      async function loadKeyed(name: string): Promise<{ position: number; state: unknown; rows: Record<string, unknown> } | null> {
        const loaded = await store.loadRows(name);
        if (loaded === null) return null;
        const rows: Record<string, unknown> = {};
        for (const { key, value } of loaded.rows) {
          expect(rows).not.toHaveProperty([key]); // each key once
          rows[key] = value;
        }
        return { position: loaded.position, state: loaded.state, rows };
      }

      it('has none for a follower that never saved', async () => {
        expect(await store.loadRows('never-saved')).toBeNull();
      });

      it('gives back the rows saved with the position, values as JSON keeps them', async () => {
        await store.saveRows('open-work', 4, [
          { key: 'pendingOrders/o-1', value: '2026-11-26T10:30:00.000Z' },
          { key: 'pendingPayments/p-1', value: { orderId: 'o-1', channel: 'sandbox', since: 't0', tags: ['ü', 1.5] } },
          { key: 'openRefunds/p-2', value: { refundId: 'refund-p-2', retryAt: null } },
        ]);

        expect(await loadKeyed('open-work')).toEqual({
          position: 4,
          state: null,
          rows: {
            'pendingOrders/o-1': '2026-11-26T10:30:00.000Z',
            'pendingPayments/p-1': { orderId: 'o-1', channel: 'sandbox', since: 't0', tags: ['ü', 1.5] },
            'openRefunds/p-2': { refundId: 'refund-p-2', retryAt: null },
          },
        });
        expect(await store.load('open-work')).toEqual({ position: 4, state: null });
      });

      it('applies only the changes: sets replace, null deletes, other rows stay as they were', async () => {
        await store.saveRows('open-work', 10, [
          { key: 'a', value: 1 },
          { key: 'b', value: { n: 2 } },
          { key: 'c', value: 3 },
        ]);

        await store.saveRows('open-work', 12, [
          { key: 'b', value: { n: 20 } },
          { key: 'c', value: null },
          { key: 'd', value: 'new' },
          { key: 'never-there', value: null },
        ]);

        expect(await loadKeyed('open-work')).toEqual({ position: 12, state: null, rows: { a: 1, b: { n: 20 }, d: 'new' } });
      });

      it('keeps any string as a key, `__proto__` and the empty string included', async () => {
        const keys = ['__proto__', '', 'constructor', 'ü/ключ', 'a\nb', '"quoted"', 'pendingOrders/ord_1'];
        await store.saveRows('open-work', 1, keys.map((key, i) => ({ key, value: { i } })));

        const loaded = await store.loadRows('open-work');

        expect(new Map(loaded?.rows.map(({ key, value }) => [key, value]))).toEqual(new Map(keys.map((key, i) => [key, { i }])));
        expect(loaded?.rows).toHaveLength(keys.length);
      });

      it('takes the last change of a key given twice in one save', async () => {
        await store.saveRows('open-work', 1, [
          { key: 'a', value: 1 },
          { key: 'a', value: null },
          { key: 'b', value: null },
          { key: 'b', value: 2 },
        ]);

        expect(await loadKeyed('open-work')).toEqual({ position: 1, state: null, rows: { b: 2 } });
      });

      it('moves the position with an empty change list, and accepts a save at the stored position', async () => {
        await store.saveRows('open-work', 5, [{ key: 'a', value: 1 }]);
        await store.saveRows('open-work', 9, []);
        await store.saveRows('open-work', 9, [{ key: 'b', value: 2 }]);

        expect(await loadKeyed('open-work')).toEqual({ position: 9, state: null, rows: { a: 1, b: 2 } });
      });

      it('keeps each follower apart', async () => {
        await store.saveRows('one', 1, [{ key: 'k', value: 'one' }]);
        await store.saveRows('two', 2, [{ key: 'k', value: 'two' }]);
        await store.saveRows('one', 3, [{ key: 'k', value: null }]);

        expect(await loadKeyed('one')).toEqual({ position: 3, state: null, rows: {} });
        expect(await loadKeyed('two')).toEqual({ position: 2, state: null, rows: { k: 'two' } });
      });

      it('writes nothing, neither rows nor position, when one change cannot be stored', async () => {
        await store.saveRows('open-work', 5, [{ key: 'a', value: 1 }]);

        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        for (const bad of [10n, undefined, cycle]) {
          await expect(
            store.saveRows('open-work', 9, [
              { key: 'a', value: null },
              { key: 'b', value: 2 },
              { key: 'c', value: bad },
            ]),
          ).rejects.toThrow(TypeError);
        }

        expect(await loadKeyed('open-work')).toEqual({ position: 5, state: null, rows: { a: 1 } });
      });

      it('refuses a save behind the stored position and writes nothing', async () => {
        await store.saveRows('open-work', 20, [{ key: 'a', value: 'new' }]);

        const error = await store.saveRows('open-work', 19, [{ key: 'a', value: 'old' }, { key: 'b', value: 1 }]).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(StaleCheckpointError);
        expect(error).toMatchObject({ checkpoint: 'open-work', position: 19, stored: 20 });
        expect(await loadKeyed('open-work')).toEqual({ position: 20, state: null, rows: { a: 'new' } });
      });

      it('hands over from a whole-state checkpoint: load gives its state; the first keyed save clears it', async () => {
        const view = { pendingOrders: { 'o-1': '2026-11-26T10:30:00.000Z' } };
        await store.save('open-work', 7, view);

        expect(await store.loadRows('open-work')).toMatchObject({ position: 7, state: view });

        await store.saveRows('open-work', 8, [{ key: 'pendingOrders/o-1', value: '2026-11-26T10:30:00.000Z' }]);
        expect(await loadKeyed('open-work')).toEqual({ position: 8, state: null, rows: { 'pendingOrders/o-1': '2026-11-26T10:30:00.000Z' } });
        expect(await store.load('open-work')).toEqual({ position: 8, state: null });
      });

      it('hands out copies: changing loaded rows does not change the store', async () => {
        await store.saveRows('open-work', 1, [{ key: 'r', value: { retryAt: null } }]);

        const loaded = await store.loadRows('open-work');
        (loaded?.rows[0].value as { retryAt: string | null }).retryAt = 'changed';

        expect(await loadKeyed('open-work')).toEqual({ position: 1, state: null, rows: { r: { retryAt: null } } });
      });

      it('keeps a large keyed state exactly, and applies a small change to it', async () => {
        const many = Array.from({ length: 5000 }, (_, i) => ({ key: `pendingOrders/order-${i}`, value: `2026-11-26T10:${String(i % 60).padStart(2, '0')}:00.000Z` }));
        await store.saveRows('open-work', 100, many);
        await store.saveRows('open-work', 101, [{ key: 'pendingOrders/order-42', value: null }]);

        const loaded = await loadKeyed('open-work');

        expect(loaded?.position).toBe(101);
        expect(Object.keys(loaded?.rows ?? {})).toHaveLength(4999);
        expect(loaded?.rows).not.toHaveProperty(['pendingOrders/order-42']);
        expect(loaded?.rows['pendingOrders/order-4999']).toBe('2026-11-26T10:19:00.000Z');
      });
    });

    describe('concurrent writers', () => {
      it('lets exactly one of 20 writers expecting the same revision win; the others write nothing', async () => {
        const stream = streamName();
        await store.append(stream, [event()], 'no-stream');

        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, () => store.append(stream, [event(), event()], 0)),
        );

        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(19);
        for (const reason of lost) expect(reason).toBeInstanceOf(ConcurrencyError);
        const events = await store.readStream(stream);
        expect(events).toHaveLength(3);
        expect(await store.headPosition()).toBe(gapFree ? 3 : events[2].position);
      });

      it(`keeps every event of 8 writers x 25 appends exactly once, at ${gapFree ? 'positions 1..N' : 'increasing positions'}`, async () => {
        const written = new Map<string, string[]>();
        await Promise.all(
          Array.from({ length: 8 }, async (_, writer) => {
            const stream = streamName(`writer${writer}`);
            const ids: string[] = [];
            written.set(stream, ids);
            for (let i = 0; i < 25; i++) {
              const e = event();
              await store.append(stream, [e], i === 0 ? 'no-stream' : i - 1);
              ids.push(e.eventId);
            }
          }),
        );

        const log = await store.readAll(0, 1000);

        if (gapFree) expect(log.map((e) => e.position)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        else {
          expect(log).toHaveLength(200);
          expectIncreasing(log.map((e) => e.position));
        }
        for (const [stream, ids] of written) {
          const inLog = log.filter((e) => e.streamName === stream);
          expect(inLog.map((e) => e.eventId)).toEqual(ids);
          expect(inLog.map((e) => e.revision)).toEqual(ids.map((_, i) => i));
        }
      });
    });

    describe('append notifications', () => {
      it('tells listeners once the appended event can be read', async () => {
        const seenHead = new Promise<number>((resolve) => {
          store.onAppended(() => void store.headPosition().then(resolve));
        });

        const result = await store.append(streamName(), [event()], 'no-stream');

        expect(await withDeadline(seenHead)).toBe(gapFree ? 1 : result.lastPosition);
      });

      it('appends normally when a listener throws, and still tells the others', async () => {
        store.onAppended(() => {
          throw new Error('broken listener');
        });
        const told = new Promise<void>((resolve) => store.onAppended(resolve));

        const result = await store.append(streamName(), [event()], 'no-stream');

        expect(result.lastPosition).toBe(gapFree ? 1 : await store.headPosition());
        await withDeadline(told);
      });

      it('stops telling a listener that unsubscribed', async () => {
        let calls = 0;
        const unsubscribe = store.onAppended(() => calls++);
        unsubscribe();
        const told = new Promise<void>((resolve) => store.onAppended(resolve));

        await store.append(streamName(), [event()], 'no-stream');
        await withDeadline(told);
        await new Promise((resolve) => setImmediate(resolve)); // let every queued listener run

        expect(calls).toBe(0);
      });
    });

    it('answers ping while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    if (reopen) {
      it('keeps events, positions, idempotency, checkpoints and keyed rows across close and reopen', async () => {
        const stream = streamName();
        const batch = [event('Kept', { amount: 5 }), event()];
        await store.append(stream, batch, 'no-stream');
        await store.save('projector', 2, { seen: 2 });
        await store.saveRows('open-work', 3, [{ key: 'pendingOrders/o-1', value: 't1' }, { key: 'pendingOrders/o-2', value: 't2' }]);
        await store.saveRows('open-work', 3, [{ key: 'pendingOrders/o-2', value: null }]);
        const before = await store.readAll(0, 100);
        await close(store);

        const again = await track(reopen());

        expect(await again.readAll(0, 100)).toEqual(before);
        expect(await again.load('projector')).toEqual({ position: 2, state: { seen: 2 } });
        expect(await again.loadRows('open-work')).toEqual({ position: 3, state: null, rows: [{ key: 'pendingOrders/o-1', value: 't1' }] });
        expect((await again.append(stream, batch, 'no-stream')).duplicate).toBe(true);
        const next = await again.append(stream, [event()], 1);
        expect(next).toEqual({ lastRevision: 2, lastPosition: gapFree ? 3 : expect.any(Number), duplicate: false });
        if (!gapFree) expect(next.lastPosition).toBeGreaterThan(before[before.length - 1].position);
      });
    }
  });
}

/** Unique per test, so adapters that share storage between tests cannot mix streams up. */
function streamName(prefix = 'order'): string {
  return `${prefix}-${randomUUID()}`;
}

function otherStream(): string {
  return streamName('payment');
}

/** UUID ids: some stores (EventStoreDB) accept nothing else. */
function event(type = 'Tested', data: Record<string, unknown> = { n: 1 }): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: { occurredAt: '2025-01-02T03:04:05.678Z', correlationId: randomUUID(), causationId: null, schemaVersion: 1 },
  };
}

/** Positions in `increasing` mode: positive integers, each above the one before. */
function expectIncreasing(positions: readonly number[]): void {
  for (const [i, position] of positions.entries()) {
    expect(Number.isSafeInteger(position) && position > 0).toBe(true);
    if (i > 0 && position <= positions[i - 1]) {
      throw new Error(`positions not strictly increasing: ${positions[i - 1]} then ${position} (${positions.join(', ')})`);
    }
  }
}

