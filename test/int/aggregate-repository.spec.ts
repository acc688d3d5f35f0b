import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregateRepository, type Causation } from '../../src/application/event-sourcing/aggregate-repository.js';
import { orderDecider, type OrderCommand, type OrderState } from '../../src/domain/order/order.decider.js';
import { foldStream } from '../../src/application/event-sourcing/fold-stream.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { CountingIds, FixedClock, MERCHANT, T0 } from './runner-world.js';

const STREAM = 'order-agg-1';
const place = (now: Date): OrderCommand => ({
  type: 'PlaceOrder',
  data: {
    orderId: 'agg-1',
    merchantId: MERCHANT,
    amount: 1999,
    currency: 'CNY',
    expiresAt: new Date(T0 + 30 * 60_000).toISOString(),
    requestedExpiry: { expiresInSeconds: 1800 },
    description: null,
  },
  metadata: { now },
});
const expire = (now: Date): OrderCommand => ({ type: 'ExpireOrder', data: { orderId: 'agg-1' }, metadata: { now } });

describe('AggregateRepository.handle on a real SQLite store', () => {
  let dir: string;
  let store: SqliteEventStore;
  let repository: AggregateRepository;
  const clock = new FixedClock();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'payguard-agg-'));
    store = new SqliteEventStore({ file: join(dir, 'events.db') });
    repository = new AggregateRepository(store, clock, new CountingIds());
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a reaction delivered twice at once appends once, and the late delivery reports nothing new with the stored state', async () => {
    await repository.handle(orderDecider, STREAM, place, { correlationId: 'c', causationId: null });
    clock.advance(31 * 60_000);
    // The same cause (an event's id) twice: both read the pending order before either appends.
    const cause: Causation = { correlationId: 'c', causationId: 'evt-deadline-1' };
    const [first, second] = await Promise.all([
      repository.handle(orderDecider, STREAM, expire, cause),
      repository.handle(orderDecider, STREAM, expire, cause),
    ]);

    const stored = await store.readStream(STREAM);
    expect(stored.map((event) => event.type)).toEqual(['OrderPlaced', 'OrderExpired']);
    const storedState: OrderState = foldStream(orderDecider, stored);
    expect([first.events.length, second.events.length].sort()).toEqual([0, 1]);
    expect(first.state).toEqual(storedState);
    expect(second.state).toEqual(storedState);
  });
});
