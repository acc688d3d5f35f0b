/**
 * The process manager and the refund executor across restarts: a runner started again goes on
 * from its stored checkpoint; one whose checkpoint is behind the head is handed every event again
 * and repeats nothing, neither in the log nor at the channel. Run on the in-memory store (a new
 * runner on the same store) and on SQLite (the file closed and opened again, as after a restart).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { ofType, RecordingLog, settle, World, type RefundCall, type Store } from './runner-world.js';

/** A store that outlives the runners, and a way to "restart" onto it. */
interface Backend {
  readonly name: string;
  open(): Store;
  /** The store as a restarted process finds it. */
  reopen(store: Store): Promise<Store>;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'payguard-runners-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
const backends: Backend[] = [
  { name: 'in memory', open: () => new MemoryEventStore(), reopen: async (store) => store },
  {
    name: 'SQLite',
    open: () => new SqliteEventStore({ file: join(dir, `restart-${++files}.sqlite`) }),
    reopen: async (store) => {
      const file = (store as SqliteEventStore).file;
      await store.close();
      return new SqliteEventStore({ file });
    },
  },
];

const RUNNERS = ['process-manager', 'refund-executor'];

describe.each(backends)('the runners on the $name store', (backend) => {
  const worlds: World[] = [];
  const refundCalls: RefundCall[] = [];

  /** Runners on `store`, sharing the channel's record of calls across restarts. */
  function worldOn(store: Store): World {
    const world = new World(store, refundCalls);
    worlds.push(world);
    return world;
  }

  afterEach(async () => {
    for (const world of worlds) await world.stopAll();
    const stores = new Set(worlds.splice(0).map((world) => world.store));
    for (const store of stores) await store.close();
    refundCalls.length = 0;
  });

  /** A duplicate payment handled to the end by both runners, which are then stopped; answers the head. */
  async function handledThenStopped(first: World): Promise<number> {
    await first.paidTwice('ord_1', 'pay_1a', 'pay_1b');
    const manager = first.processManager();
    const executor = first.refundExecutor();
    await manager.start();
    await executor.start();
    const head = await settle(first.store, [manager, executor]);
    await first.stopAll();
    expect(refundCalls.map(({ refundId }) => refundId)).toEqual(['refund-pay_1b']);
    return head;
  }

  it('go on after a stop from their stored checkpoints, handling only what came after', async () => {
    const first = worldOn(backend.open());
    const stoppedAt = await handledThenStopped(first);
    // stop() stores what the runner handled, though a checkpoint is otherwise stored at most once a second.
    for (const name of RUNNERS) expect(await first.store.load(name)).toMatchObject({ position: stoppedAt });
    const handledBefore = await first.log();

    const store = await backend.reopen(first.store);
    const second = worldOn(store);
    await second.paidTwice('ord_2', 'pay_2a', 'pay_2b');
    const managerLog = new RecordingLog(store);
    const executorLog = new RecordingLog(store);
    const manager = second.processManager(managerLog);
    const executor = second.refundExecutor(executorLog);
    await manager.start();
    await executor.start();
    const head = await settle(store, [manager, executor]);

    // Each began reading at its checkpoint and was handed every later event, once, in order.
    for (const log of [managerLog, executorLog]) {
      expect(log.reads[0].after).toBe(stoppedAt);
      expect(log.delivered).toEqual(Array.from({ length: head - stoppedAt }, (_, i) => stoppedAt + 1 + i));
    }
    expect(manager.position).toBe(head);
    expect(executor.position).toBe(head);

    // The second order got its own anomaly and refund; the first order's were not touched again.
    const events = await second.log();
    expect(ofType(events, 'AnomalyDetected').map((event) => event.data.paymentId)).toEqual(['pay_1b', 'pay_2b']);
    expect(ofType(events, 'RefundRequested').map((event) => event.data.refundId)).toEqual(['refund-pay_1b', 'refund-pay_2b']);
    expect(ofType(events, 'RefundSucceeded').map((event) => event.data.refundId)).toEqual(['refund-pay_1b', 'refund-pay_2b']);
    expect(events.slice(0, stoppedAt)).toEqual(handledBefore);
    expect(refundCalls.map(({ refundId }) => refundId)).toEqual(['refund-pay_1b', 'refund-pay_2b']);
  });

  it('handed every event again after their checkpoints were rewound, append nothing and refund nothing twice', async () => {
    const first = worldOn(backend.open());
    const head = await handledThenStopped(first);
    const before = await first.log();

    const store = await backend.reopen(first.store);
    for (const name of RUNNERS) await store.save(name, 0);
    const second = worldOn(store);
    const managerLog = new RecordingLog(store);
    const executorLog = new RecordingLog(store);
    const manager = second.processManager(managerLog);
    const executor = second.refundExecutor(executorLog);
    await manager.start();
    await executor.start();
    expect(await settle(store, [manager, executor])).toBe(head);
    await second.stopAll();

    // Every event was handed over again, from the first...
    for (const log of [managerLog, executorLog]) {
      expect(log.reads[0].after).toBe(0);
      expect(log.delivered).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    }
    // ... and the log is exactly what it was, the channel asked once in all, the checkpoints back at the head.
    expect(await second.log()).toEqual(before);
    expect(refundCalls.map(({ refundId }) => refundId)).toEqual(['refund-pay_1b']);
    for (const name of RUNNERS) expect(await store.load(name)).toMatchObject({ position: head });
  });
});
