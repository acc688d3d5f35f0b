import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPEN_WORK_CHECKPOINT, OpenWorkIndex } from '../../src/application/open-work/open-work.index.js';
import type { OpenWork } from '../../src/application/open-work/open-work.js';
import type {
  EventStore,
  KeyedCheckpoint,
  KeyedCheckpointStore,
  NewEvent,
  RecordedEvent,
  StateChange,
} from '../../src/application/ports/event-store.port.js';
import { SharedLogReader } from '../../src/application/log/shared-log-reader.js';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';

type Store = EventStore & KeyedCheckpointStore;

const BASE = Date.parse('2026-11-26T10:00:00.000Z');
const at = (minutes: number): string => new Date(BASE + minutes * 60_000).toISOString();

let dir: string;
const running: OpenWorkIndex[] = [];
const stores: Store[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'payguard-open-work-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const index of running.splice(0)) await index.stop();
  for (const store of stores.splice(0)) await store.close();
});

function track<S extends Store>(store: S): S {
  stores.push(store);
  return store;
}

/** An index as the service builds it, started and caught up with the log. */
async function startIndex(store: Store, log: Pick<EventStore, 'readAll' | 'onAppended'> = store): Promise<OpenWorkIndex> {
  const index = new OpenWorkIndex(new SharedLogReader(log), store);
  running.push(index);
  await index.start();
  await index.waitFor(await store.headPosition());
  return index;
}

async function stopIndex(index: OpenWorkIndex): Promise<void> {
  running.splice(running.indexOf(index), 1);
  await index.stop();
}

function event(type: string, data: Record<string, unknown>): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: { occurredAt: at(0), correlationId: 'c', causationId: null, schemaVersion: 1 },
  };
}

/** `count` orders, each with a payment; every third paid, every fifth with an anomaly refunded after one failure. */
async function busyDay(store: Store, count: number, prefix = 'ord'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const orderId = `${prefix}_${i}`;
    const paymentId = `pay_${prefix}_${i}`;
    const events = [
      event('OrderPlaced', { orderId, expiresAt: at(i % 90) }),
      event('PaymentInitiated', { paymentId, orderId, channel: 'sandbox-bank', createdAt: at(0) }),
    ];
    if (i % 3 === 0) events.push(event('PaymentSucceeded', { paymentId }), event('OrderPaid', { orderId }));
    if (i % 5 === 0) {
      events.push(event('AnomalyDetected', { orderId, paymentId: `dup_${i}`, kind: 'duplicate-payment', detectedAt: at(1) }));
      if (i % 10 === 0) {
        events.push(event('RefundRequested', { paymentId: `dup_${i}`, refundId: `refund-dup_${i}`, requestedAt: at(2) }));
        events.push(event('RefundFailed', { paymentId: `dup_${i}`, retryAt: at(3) }));
      }
    }
    await store.append(`order-${orderId}`, events, 'no-stream');
  }
}

function entryCount(work: OpenWork): number {
  return Object.values(work).reduce((sum, section) => sum + Object.keys(section).length, 0);
}

/** Every pending order's id, as the deadline queue gives them back when all are due. */
function allDue(index: OpenWorkIndex): string[] {
  return index.takeDueOrders(new Date(BASE + 365 * 24 * 3600_000)).sort();
}

/** Records what each keyed save asked the store to write. */
class RecordingStore extends MemoryEventStore {
  readonly saves: { position: number; changes: StateChange[]; bytes: number }[] = [];
  failNextSave = false;

  override async saveRows(name: string, position: number, changes: readonly StateChange[]): Promise<void> {
    if (this.failNextSave) {
      this.failNextSave = false;
      throw new Error('store unavailable');
    }
    const bytes = changes.reduce((sum, { key, value }) => sum + key.length + JSON.stringify(value).length, 0);
    this.saves.push({ position, changes: structuredClone([...changes]), bytes });
    await super.saveRows(name, position, changes);
  }
}

describe('the open-work index, stored as rows', () => {
  it('comes back after a restart with the same view and deadlines, from its rows alone', async () => {
    const file = join(dir, 'restart.sqlite');
    const store = track(new SqliteEventStore({ file }));
    await busyDay(store, 3000);
    const first = await startIndex(store);
    const view = structuredClone(first.current);
    await stopIndex(first);
    await store.close();

    const reopened = track(new SqliteEventStore({ file }));
    const read: RecordedEvent[] = [];
    const counting = {
      readAll: async (after: number, limit: number) => {
        const events = await reopened.readAll(after, limit);
        read.push(...events);
        return events;
      },
      onAppended: (listener: () => void) => reopened.onAppended(listener),
    };
    const again = await startIndex(reopened, counting);

    expect(read).toEqual([]); // nothing replayed: the view came from the rows
    expect(again.current).toEqual(view);
    expect(entryCount(view)).toBe(2000 + 2000 + 300 + 300); // unpaid orders and payments, anomalies, refunds
    const stored = (await reopened.loadRows(OPEN_WORK_CHECKPOINT)) as KeyedCheckpoint;
    expect(stored.state).toBeNull();
    expect(stored.rows).toHaveLength(entryCount(view));
    // Deadlines as the first index had them: due at the same moments, each order once.
    expect(again.takeDueOrders(new Date(at(9))).sort()).toEqual(
      Object.keys(view.pendingOrders)
        .filter((id) => Number(id.slice(4)) % 90 <= 9)
        .sort(),
    );
    expect(allDue(again)).toEqual(Object.keys(view.pendingOrders).filter((id) => Number(id.slice(4)) % 90 > 9).sort());
  });

  it('writes per save only what changed: the same few rows beside 1,000 or 10,000 open orders', async () => {
    const written: number[] = [];
    for (const size of [1000, 10_000]) {
      const store = track(new RecordingStore());
      await busyDay(store, size);
      const first = await startIndex(store);
      await stopIndex(first);
      const wholeView = JSON.stringify(first.current).length;
      const before = store.saves.length;

      const index = await startIndex(store);
      await store.append('order-ord_1', [event('OrderPaid', { orderId: 'ord_1' })], 'any');
      await store.append('order-new', [event('OrderPlaced', { orderId: 'new', expiresAt: at(30) })], 'no-stream');
      await store.append('order-ord_10', [event('RefundSucceeded', { paymentId: 'dup_10' })], 'any');
      await index.waitFor(await store.headPosition());
      await stopIndex(index);

      const after = store.saves.slice(before);
      const changes = after.flatMap((save) => save.changes);
      expect(changes).toEqual(
        expect.arrayContaining([
          { key: 'order:ord_1', value: null },
          { key: 'order:new', value: at(30) },
          { key: 'refund:dup_10', value: null },
        ]),
      );
      expect(changes).toHaveLength(3);
      expect(after[after.length - 1].position).toBe(await store.headPosition());
      const bytes = after.reduce((sum, save) => sum + save.bytes, 0);
      expect(bytes).toBeLessThan(wholeView / 500);
      written.push(bytes);
    }
    expect(written[1]).toBe(written[0]);
  });

  it('takes over the whole-JSON checkpoint of an earlier release, then stores rows in its place', async () => {
    const store = track(new RecordingStore());
    // The log before the old checkpoint holds nothing the index keeps: only that checkpoint can say what is open.
    await store.append('noise-1', [event('SomethingElse', {}), event('SomethingElse', {})], 'no-stream');
    const old: OpenWork = {
      pendingOrders: { ord_old: at(5), ord_kept: at(60) },
      trades: { pay_old: { orderKey: 'ord_old', channel: 'sandbox-bank', timeExpire: at(4), state: 'open', initiated: true, since: at(0) } },
      unrefundedAnomalies: {},
      openRefunds: { dup_old: { refundId: 'refund-dup_old', requestedAt: at(1), retryAt: at(4), failed: false } },
    };
    await store.save(OPEN_WORK_CHECKPOINT, 2, old);
    await store.append('order-ord_old', [event('OrderExpired', { orderId: 'ord_old' }), event('PaymentWatchEnded', { paymentId: 'pay_old' })], 'any');
    await store.append('order-ord_new', [event('OrderPlaced', { orderId: 'ord_new', expiresAt: at(10) })], 'no-stream');

    const index = await startIndex(store);

    const expected: OpenWork = {
      pendingOrders: { ord_kept: at(60), ord_new: at(10) },
      trades: {},
      unrefundedAnomalies: {},
      openRefunds: { dup_old: { refundId: 'refund-dup_old', requestedAt: at(1), retryAt: at(4), failed: false } },
    };
    expect(index.current).toEqual(expected);
    expect(index.takeDueOrders(new Date(at(10)))).toEqual(['ord_new']);
    await stopIndex(index);

    const stored = (await store.loadRows(OPEN_WORK_CHECKPOINT)) as KeyedCheckpoint;
    expect(stored.state).toBeNull();
    expect(stored.position).toBe(await store.headPosition());
    expect(new Map(stored.rows.map(({ key, value }) => [key, value]))).toEqual(
      new Map<string, unknown>([
        ['order:ord_kept', at(60)],
        ['order:ord_new', at(10)],
        ['refund:dup_old', { refundId: 'refund-dup_old', requestedAt: at(1), retryAt: at(4), failed: false }],
      ]),
    );
    const again = await startIndex(store);
    expect(again.current).toEqual(expected);
  });

  it('drops rows left beside a newer whole-state checkpoint (a downgrade and upgrade again)', async () => {
    const store = track(new RecordingStore());
    await store.saveRows(OPEN_WORK_CHECKPOINT, 0, [{ key: 'order:gone', value: at(1) }, { key: 'order:kept', value: at(2) }]);
    await store.append('noise-1', [event('SomethingElse', {})], 'no-stream');
    await store.save(OPEN_WORK_CHECKPOINT, 1, { pendingOrders: { kept: at(2) }, trades: {}, unrefundedAnomalies: {}, openRefunds: {} });

    const index = await startIndex(store);
    expect(index.current.pendingOrders).toEqual({ kept: at(2) });
    // The conversion is stored with the first save, which follows the next event.
    await store.append('noise-2', [event('SomethingElse', {})], 'no-stream');
    await index.waitFor(2);
    await stopIndex(index);

    expect(await store.loadRows(OPEN_WORK_CHECKPOINT)).toEqual({ position: 2, state: null, rows: [{ key: 'order:kept', value: at(2) }] });
  });

  it('keeps the changes of a save the store refused, and writes them with the next one', async () => {
    const store = track(new RecordingStore());
    await busyDay(store, 10);
    store.failNextSave = true;
    const reported: unknown[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => void reported.push(args);

    try {
      const index = await startIndex(store); // the follower retries the failed save after its backoff
      await stopIndex(index);
    } finally {
      console.error = consoleError;
    }

    expect(reported).toEqual([[`log follower ${OPEN_WORK_CHECKPOINT}:`, new Error('store unavailable')]]);

    const stored = (await store.loadRows(OPEN_WORK_CHECKPOINT)) as KeyedCheckpoint;
    expect(stored.position).toBe(await store.headPosition());
    expect(stored.rows).toHaveLength(6 + 6 + 1 + 1); // unpaid orders and their payments, one anomaly, one refund
  });
});
