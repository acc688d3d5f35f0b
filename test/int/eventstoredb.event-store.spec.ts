import { randomBytes, randomUUID } from 'node:crypto';
import { EventStoreDBClient } from '@eventstore/db-client';
import { LogFollower } from '../../src/application/log/log-follower.js';
import {
  ConcurrencyError,
  IdempotencyConflictError,
  type NewEvent,
  type RecordedEvent,
  StaleCheckpointError,
} from '../../src/application/ports/event-store.port.js';
import { CHECKPOINTS_KEPT, EventStoreDbEventStore } from '../../src/infrastructure/event-store/eventstoredb.event-store.js';
import { ORIGINAL_EVENT_ID_KEY, toEsdbEventId } from '../../src/infrastructure/event-store/eventstoredb-mapping.js';
import { EventStoreStandIn } from '../support/eventstoredb-stand-in.js';
import { describeEventStoreContract } from './event-store.contract.js';
import { sleep, withDeadline } from '../support/wait.js';

/**
 * The EventStoreDB adapter against a server (its pure mappings, which need none, are in
 * eventstoredb-mapping.spec.ts), in two parts:
 *
 * 1. The whole contract suite and the adapter's own tests, through the real client, against an
 *    in-process STAND-IN that speaks EventStoreDB's gRPC Streams protocol
 *    (test/support/eventstoredb-stand-in.ts; the leader lease's tests use it too). It is NOT
 *    EventStoreDB: it exercises the client plumbing and the adapter's logic, and models the
 *    server's semantics as read from EventStoreDB's source and documentation (commit/prepare
 *    positions, inclusive forward and exclusive backward `$all` reads, filtered catch-up
 *    subscriptions that start after their position and end their catch-up with the caught-up
 *    message or, as servers before 23.10 did, a checkpoint, wrong expected version, idempotent
 *    repeats, `$maxCount`), so it cannot prove them. Always run. What only the stand-in can show
 *    (server behaviour set up on purpose) is in eventstoredb.stand-in.spec.ts.
 * 2. The same suites against a real EventStoreDB at EVENTSTORE_URL (each store in a fresh random
 *    namespace, so a shared server is fine), e.g.
 *      docker compose up -d eventstoredb
 *      EVENTSTORE_URL='esdb://127.0.0.1:2113?tls=false' npm test
 *    When EVENTSTORE_URL is unset this part is reported as one test saying it is skipped.
 */
const EVENTSTORE_URL = process.env.EVENTSTORE_URL || '';
const SHOWN_URL = EVENTSTORE_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
const RUN = randomBytes(3).toString('hex');
let namespaces = 0;

/** A namespace no other test (or run) uses, so every store starts empty even on a shared server. */
function freshNamespace(): string {
  return `test-${RUN}-${++namespaces}:`;
}

describe('against an in-process stand-in for EventStoreDB (not EventStoreDB: see the file comment)', () => {
  let standIn: EventStoreStandIn;
  beforeAll(async () => {
    standIn = await EventStoreStandIn.start();
  });
  afterAll(async () => {
    await standIn?.stop();
  });

  describeEventStoreDb(() => standIn.url);
});

if (EVENTSTORE_URL) {
  describe(`against EventStoreDB at ${SHOWN_URL}`, () => {
    describeEventStoreDb(() => EVENTSTORE_URL);
  });
} else {
  // Reported by jest as skipped, with the reason in the name: set EVENTSTORE_URL to run them
  // (docker compose up -d eventstoredb && EVENTSTORE_URL='esdb://127.0.0.1:2113?tls=false' npm test).
  describe.skip('against a real EventStoreDB (skipped: EVENTSTORE_URL is not set; README, "Running on EventStoreDB")', () => {
    it('runs the event store contract suite and the adapter tests against the server', () => undefined);
  });
}

/** The contract suite and the adapter's own promises, against the server at `url()`. */
function describeEventStoreDb(url: () => string): void {
  let latest = '';
  describeEventStoreContract(
    'EventStoreDbEventStore',
    () => EventStoreDbEventStore.open({ connectionString: url(), namespace: (latest = freshNamespace()) }),
    () => EventStoreDbEventStore.open({ connectionString: url(), namespace: latest }),
    { positions: 'increasing' },
  );

  describe('EventStoreDbEventStore', () => {
    const stores: EventStoreDbEventStore[] = [];
    const clients: EventStoreDBClient[] = [];
    async function open(namespace = freshNamespace()): Promise<EventStoreDbEventStore> {
      const store = await EventStoreDbEventStore.open({ connectionString: url(), namespace });
      stores.push(store);
      return store;
    }
    function rawClient(): EventStoreDBClient {
      const client = EventStoreDBClient.connectionString(url());
      clients.push(client);
      return client;
    }
    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
      for (const client of clients.splice(0)) await client.dispose();
    });

    it('writes a stream as <namespace><name> and reads it back without the prefix; other namespaces see none of it', async () => {
      const store = await open();
      const event = newEvent();
      const { lastPosition } = await store.append('order-1', [event], 'no-stream');

      const raw = [];
      for await (const resolved of rawClient().readStream(`${store.namespace}order-1`)) raw.push(resolved.event);
      expect(raw.map((e) => [e?.id, e?.type, e?.revision])).toEqual([[event.eventId, event.type, 0n]]);
      expect((await store.readStream('order-1'))[0]).toMatchObject({ streamName: 'order-1', eventId: event.eventId, position: lastPosition });

      const elsewhere = await open();
      expect(await elsewhere.readStream('order-1')).toEqual([]);
      expect(await elsewhere.readAll(0, 10)).toEqual([]);
      expect(await elsewhere.headPosition()).toBe(0);
    });

    it('gives each event its $all commit position', async () => {
      const store = await open();
      await store.append('order-1', [newEvent(), newEvent()], 'no-stream');
      const log = await store.readAll(0, 10);

      const raw = [];
      const from = { commit: BigInt(log[0].position), prepare: BigInt(log[0].position) };
      for await (const resolved of rawClient().readAll({ fromPosition: from, maxCount: 50 })) {
        if (resolved.event?.streamId === `${store.namespace}order-1`) raw.push(resolved.event);
      }
      expect(raw.map((e) => Number(e.position.commit))).toEqual(log.map((e) => e.position));
    });

    it('stores a non-UUID event id as a name-based UUID, the original in the metadata, and gives the original back', async () => {
      const store = await open();
      const ids = ['refund-p-1', randomUUID().toUpperCase()];
      const events = ids.map((eventId) => newEvent({ eventId }));
      await store.append('refund-1', events, 'no-stream');

      const raw = [];
      for await (const resolved of rawClient().readStream(`${store.namespace}refund-1`)) raw.push(resolved.event);
      expect(raw.map((e) => e?.id)).toEqual(ids.map(toEsdbEventId));
      expect(raw.map((e) => (e?.metadata as Record<string, unknown>)[ORIGINAL_EVENT_ID_KEY])).toEqual(ids);
      expect((await store.readStream('refund-1')).map((e) => [e.eventId, e.metadata])).toEqual(events.map((e) => [e.eventId, e.metadata]));
      expect((await store.append('refund-1', events, 'any')).duplicate).toBe(true);
      await expect(store.append('refund-1', [events[1], newEvent()], 'any')).rejects.toBeInstanceOf(IdempotencyConflictError);
    });

    it(`keeps checkpoints in a state stream per follower, with $maxCount ${CHECKPOINTS_KEPT}, out of the log`, async () => {
      const store = await open();
      for (let position = 1; position <= CHECKPOINTS_KEPT + 2; position++) await store.save('projector', position, { position });

      expect(await store.load('projector')).toEqual({ position: CHECKPOINTS_KEPT + 2, state: { position: CHECKPOINTS_KEPT + 2 } });
      const { metadata } = await rawClient().getStreamMetadata(`${store.namespace}payguard_checkpoint-projector`);
      expect(metadata?.maxCount).toBe(CHECKPOINTS_KEPT);
      expect(await store.readAll(0, 100)).toEqual([]);
      expect(await store.headPosition()).toBe(0);
    });

    it('stores keyed rows whole in each checkpoint event, and folds a save onto what another instance saved meanwhile', async () => {
      const here = await open();
      const elsewhere = await open(here.namespace);
      await here.saveRows('open-work', 1, [{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
      await elsewhere.loadRows('open-work');
      await here.saveRows('open-work', 2, [{ key: 'c', value: 3 }]);

      // `elsewhere` last saw revision 0: its save must not go onto those stale rows.
      await elsewhere.saveRows('open-work', 3, [{ key: 'a', value: null }]);

      const raw = [];
      for await (const resolved of rawClient().readStream(`${here.namespace}payguard_checkpoint-open-work`)) raw.push(resolved.event?.data);
      expect(raw).toEqual([
        { position: 1, state: null, rows: { a: 1, b: 2 } },
        { position: 2, state: null, rows: { a: 1, b: 2, c: 3 } },
        { position: 3, state: null, rows: { b: 2, c: 3 } },
      ]);
      expect(await here.loadRows('open-work')).toEqual({ position: 3, state: null, rows: [{ key: 'b', value: 2 }, { key: 'c', value: 3 }] });
      await expect(here.saveRows('open-work', 2, [])).rejects.toBeInstanceOf(StaleCheckpointError);
    });

    it("wakes another instance's listeners through its live subscription, and its own once per append", async () => {
      const here = await open();
      const elsewhere = await open(here.namespace);
      let localCalls = 0;
      elsewhere.onAppended(() => localCalls++);
      const woken = new Promise<void>((resolve) => here.onAppended(resolve));

      await elsewhere.append('order-1', [newEvent()], 'no-stream');

      await withDeadline(woken);
      await sleep(300); // the echo of its own append would have arrived by now
      expect(localCalls).toBe(1);
    });

    it('lets one of several instances expecting the same revision win; the others get ConcurrencyError', async () => {
      const namespace = freshNamespace();
      const instances = await Promise.all(Array.from({ length: 4 }, () => open(namespace)));
      await instances[0].append('order-1', [newEvent()], 'no-stream');

      const outcomes = await Promise.allSettled(instances.map((s) => s.append('order-1', [newEvent()], 0)));

      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ name: 'ConcurrencyError', actual: 1 });
    });

    it('writes a batch that several instances append at once exactly once, with `any` or `no-stream`', async () => {
      const namespace = freshNamespace();
      const instances = await Promise.all(Array.from({ length: 4 }, () => open(namespace)));
      for (const expected of ['any', 'no-stream'] as const) {
        const stream = `order-${expected}`;
        const batch = [newEvent(), newEvent()];

        const results = await Promise.all(instances.map((s) => s.append(stream, batch, expected)));

        // One wrote it; the others were told duplicate, or (EventStoreDB's own idempotent write) success.
        expect(results.filter((r) => !r.duplicate).length).toBeGreaterThanOrEqual(1);
        for (const r of results) expect(r).toMatchObject({ lastRevision: 1 });
        expect((await instances[0].readStream(stream)).map((e) => e.eventId)).toEqual(batch.map((e) => e.eventId));
      }
    });

    it('gives a LogFollower on another instance every event once, in order, woken by the live subscription', async () => {
      const reader = await open();
      const writer = await open(reader.namespace);
      const handled: RecordedEvent[] = [];
      const follower = new LogFollower(reader, reader, {
        name: 'follower',
        handle: async (events) => void handled.push(...events),
        batchSize: 7,
        pollIntervalMs: 60_000, // only a wake-up can explain progress
        onError: () => undefined,
      });
      await follower.start();
      try {
        let last = 0;
        for (let i = 0; i < 10; i++) last = (await writer.append(`order-${i % 3}`, [newEvent(), newEvent()], 'any')).lastPosition;

        await follower.waitFor(last, 5_000);
        expect(handled).toHaveLength(20);
        expect(handled.map((e) => e.position)).toEqual((await reader.readAll(0, 100)).map((e) => e.position));
        expect(await reader.load('follower')).toMatchObject({ position: last });
      } finally {
        await follower.stop();
      }
    });

    it('refuses reserved stream names and event types', async () => {
      const store = await open();
      for (const name of ['', '$order-1', 'payguard_checkpoint-x', 'payguard_leader']) {
        await expect(store.append(name, [newEvent()], 'any')).rejects.toThrow(RangeError);
      }
      await expect(store.append('order-1', [newEvent({ type: '$metadata' })], 'any')).rejects.toThrow(RangeError);
    });

    it('rejects use after close', async () => {
      const store = await open();
      await store.close();

      await expect(store.ping()).rejects.toThrow(/closed/);
      await expect(store.readAll(0, 1)).rejects.toThrow(/closed/);
      await store.close(); // twice is fine
    });
  });
}

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'Tested',
    data: { amount: 1999, nested: { ok: true, none: null } },
    metadata: { occurredAt: '2025-01-02T03:04:05.678Z', correlationId: randomUUID(), causationId: null, schemaVersion: 1 },
    ...overrides,
  };
}

