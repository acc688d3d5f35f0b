/**
 * The open-work index beside the process manager and the refund executor, across a restart: the
 * view it restores from its stored rows is the view an index rebuilt from the whole log holds,
 * and stays so as it follows what the runners append next.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPEN_WORK_CHECKPOINT, type OpenWorkIndex } from '../../src/application/open-work/open-work.index.js';
import type { OpenWork } from '../../src/application/open-work/open-work.js';
import type { RecordedEvent } from '../../src/application/ports/event-store.port.js';
import { orderKey } from '../../src/domain/shared/stream-names.js';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { MERCHANT, ofType, RecordingLog, settle, World, type RefundCall, type Store } from './runner-world.js';

let dir: string;
const worlds: World[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'payguard-runners-open-work-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const world of worlds) await world.stopAll();
  for (const store of new Set(worlds.splice(0).map((world) => world.store))) await store.close();
});

function worldOn(store: Store, refundCalls: RefundCall[]): World {
  const world = new World(store, refundCalls);
  worlds.push(world);
  return world;
}

/** The view an index holds that never saw a checkpoint: rebuilt from the whole log. */
async function rebuiltFromLog(world: World): Promise<OpenWork> {
  const index = world.openWorkIndex(world.store, new MemoryEventStore());
  await index.start();
  await index.waitFor(await world.store.headPosition());
  await index.stop();
  return index.current;
}

const only = (events: readonly RecordedEvent[], type: string, paymentId: string): RecordedEvent => {
  const [event, ...more] = ofType(events, type).filter((candidate) => candidate.data.paymentId === paymentId);
  if (event === undefined || more.length > 0) throw new Error(`expected one ${type} of ${paymentId}`);
  return event;
};

describe('the open-work index restarted beside the runners', () => {
  it('restores from its rows the view rebuilt from the log, and keeps agreeing with it', async () => {
    const file = join(dir, 'open-work.sqlite');
    const refundCalls: RefundCall[] = [];
    const first = worldOn(new SqliteEventStore({ file }), refundCalls);

    // A duplicate payment whose refund the channel turns down once, and an order still waiting on its payment.
    first.refusing.add('refund-pay_1b');
    await first.paidTwice('ord_1', 'pay_1a', 'pay_1b');
    await first.placeOrder('ord_open');
    await first.startPayment('ord_open', 'pay_open', 'sandbox-bank');
    const index = first.openWorkIndex();
    const runners = [first.processManager(), first.refundExecutor(), index];
    for (const runner of runners) await runner.start();
    const stoppedAt = await settle(first.store, runners);
    await first.stopAll();

    let events = await first.log();
    const failed = only(events, 'RefundFailed', 'pay_1b');
    expect(refundCalls.map(({ refundId }) => refundId)).toEqual(['refund-pay_1b']);
    // The view says what the log left open: the unpaid order and its trade, and the refund to retry.
    const placed = ofType(events, 'OrderPlaced').find((event) => event.data.orderId === 'ord_open') as RecordedEvent;
    const seen = structuredClone(index.current);
    expect(Object.entries(seen.pendingOrders)).toEqual([[orderKey('ord_open', MERCHANT), placed.data.expiresAt]]);
    expect(Object.keys(seen.trades)).toEqual(['pay_open']);
    expect(seen.trades.pay_open).toMatchObject({ orderKey: orderKey('ord_open', MERCHANT), state: 'open', initiated: true });
    expect(Object.keys(seen.unrefundedAnomalies)).toEqual([]);
    expect({ ...seen.openRefunds }).toEqual({
      pay_1b: {
        refundId: 'refund-pay_1b',
        requestedAt: only(events, 'RefundRequested', 'pay_1b').data.requestedAt,
        retryAt: failed.data.retryAt,
        failed: false,
      },
    });
    // stop() stored the view as rows at the head.
    const stored = await first.store.loadRows(OPEN_WORK_CHECKPOINT);
    expect(stored).toMatchObject({ position: stoppedAt, state: null });
    expect(stored?.rows).toHaveLength(3);

    // Restart: the file opened again, an index restored from its rows alone (nothing to read after them).
    await first.store.close();
    const second = worldOn(new SqliteEventStore({ file }), refundCalls);
    const restartedLog = new RecordingLog(second.store);
    const restarted: OpenWorkIndex = second.openWorkIndex(restartedLog);
    await restarted.start();
    expect(restartedLog.reads[0].after).toBe(stoppedAt);
    expect(restartedLog.delivered).toEqual([]);
    expect(restarted.current).toEqual(seen);
    expect(restarted.current).toEqual(await rebuiltFromLog(second));

    // The log goes on: another duplicate payment, refunded at once, and the waiting order expires.
    second.clock.advance(3600_000);
    await second.paidTwice('ord_2', 'pay_2a', 'pay_2b');
    await second.expireOrder('ord_open');
    const more = [second.processManager(), second.refundExecutor(), restarted];
    for (const runner of more) await runner.start();
    const head = await settle(second.store, more);

    events = await second.log();
    expect(restartedLog.delivered).toEqual(Array.from({ length: head - stoppedAt }, (_, i) => stoppedAt + 1 + i));
    expect(ofType(events, 'OrderExpired').map((event) => event.data.orderId)).toEqual(['ord_open']);
    expect(only(events, 'RefundSucceeded', 'pay_2b').data.refundId).toBe('refund-pay_2b');
    // The first refund waits for its retryAt (the scheduler's business), so the channel heard of it once.
    expect(refundCalls.map(({ refundId }) => refundId)).toEqual(['refund-pay_1b', 'refund-pay_2b']);

    const now = restarted.current;
    expect(now).toEqual(await rebuiltFromLog(second));
    expect(Object.keys(now.pendingOrders)).toEqual([]);
    expect(Object.keys(now.trades)).toEqual(['pay_open']);
    expect(Object.keys(now.openRefunds)).toEqual(['pay_1b']);
    expect(Object.keys(now.unrefundedAnomalies)).toEqual([]);
  });
});
