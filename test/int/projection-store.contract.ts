/**
 * One contract for every ProjectionStore adapter: the same assertions for memory, SQLite and
 * PostgreSQL. `open` gives a fresh, empty store each time.
 */
import {
  ProjectionOutOfStepError,
  type AnomalyChange,
  type OrderChange,
  type ProjectionStore,
  type ProjectionUpdate,
  type ReportChange,
} from '../../src/application/ports/projection-store.port.js';
import { describeSettlementDays } from './settlement-days.contract.js';

const order = (orderId: string, change: Partial<OrderChange>): OrderChange => ({
  kind: 'order',
  orderId,
  placed: null,
  paymentsAdded: 0,
  anomaliesAdded: 0,
  refundedAdded: 0,
  ended: null,
  ...change,
});
const placed = (orderId: string, createdAt: string, merchantId: string | null = 'shop-a'): OrderChange =>
  order(orderId, { placed: { merchantId, amount: 1000, currency: 'CNY', createdAt, expiresAt: '2026-11-20T12:00:00.000Z' } });
const anomaly = (paymentId: string, change: Partial<AnomalyChange>): AnomalyChange => ({
  kind: 'anomaly',
  paymentId,
  detected: null,
  refundStatus: null,
  refundRequested: null,
  refundFailuresAdded: 0,
  refundCompletedAt: null,
  ...change,
});
const captured = (paymentId: string, channel: string, amount: number, day = '2026-11-20'): ReportChange => ({
  kind: 'captured',
  paymentId,
  channel,
  currency: 'CNY',
  amount,
  day,
});

export function describeProjectionStoreContract(name: string, open: () => Promise<ProjectionStore>): void {
  describe(`${name} projection store`, () => {
    let store: ProjectionStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    it('starts every projection at checkpoint 0, never built', async () => {
      expect(await store.checkpoints()).toEqual({
        orders: { position: 0, version: 0, settings: '' },
        anomalies: { position: 0, version: 0, settings: '' },
        settlement: { position: 0, version: 0, settings: '' },
      });
    });

    it('applies the rows and moves the checkpoint together', async () => {
      const after = await store.apply([{ projection: 'orders', after: 0, position: 3, changes: [placed('o1', '2026-11-20T10:00:00.000Z')] }]);

      expect(after.orders.position).toBe(3);
      expect(await store.orders({ limit: 10 })).toEqual([
        expect.objectContaining({ orderId: 'o1', status: 'pending', merchantId: 'shop-a', amount: 1000, payments: 0 }),
      ]);
    });

    it('applies a batch once: a retry after a lost answer changes nothing', async () => {
      const update: ProjectionUpdate = { projection: 'settlement', after: 0, position: 5, changes: [captured('p1', 'sandbox-bank', 700)] };
      await store.apply([update]);

      await store.apply([update]);

      expect(await store.settlement({})).toEqual([expect.objectContaining({ channel: 'sandbox-bank', capturedAmount: '700', capturedCount: 1 })]);
      expect((await store.checkpoints()).settlement.position).toBe(5);
    });

    it('refuses an update that does not start at the stored checkpoint, and applies nothing of the call', async () => {
      await store.apply([{ projection: 'orders', after: 0, position: 5, changes: [placed('o1', '2026-11-20T10:00:00.000Z')] }]);

      const refused = store.apply([
        { projection: 'settlement', after: 0, position: 9, changes: [captured('p1', 'sandbox-bank', 700)] },
        { projection: 'orders', after: 7, position: 9, changes: [placed('o2', '2026-11-20T10:01:00.000Z')] },
      ]);

      // By name: the threaded adapter is loaded from the build, with its own copy of the class.
      await expect(refused).rejects.toMatchObject({ name: ProjectionOutOfStepError.name, projection: 'orders', expected: 7, actual: 5 });
      expect(await store.settlement({})).toEqual([]);
      expect((await store.orders({ limit: 10 })).map((row) => row.orderId)).toEqual(['o1']);
      expect((await store.checkpoints()).settlement.position).toBe(0);
    });

    it('follows an order through attempts, its end, anomalies and refunds', async () => {
      await store.apply([
        {
          projection: 'orders',
          after: 0,
          position: 6,
          changes: [
            placed('o1', '2026-11-20T10:00:00.000Z'),
            order('o1', { paymentsAdded: 1 }),
            order('o1', { paymentsAdded: 1 }),
            order('o1', { ended: { status: 'paid', at: '2026-11-20T10:05:00.000Z', paidBy: 'p1' } }),
            order('o1', { anomaliesAdded: 1 }),
            order('o1', { refundedAdded: 1000 }),
          ],
        },
      ]);

      expect(await store.orders({ limit: 10 })).toEqual([
        {
          orderId: 'o1',
          orderKey: 'o1',
          merchantId: 'shop-a',
          status: 'paid',
          amount: 1000,
          currency: 'CNY',
          createdAt: '2026-11-20T10:00:00.000Z',
          expiresAt: '2026-11-20T12:00:00.000Z',
          endedAt: '2026-11-20T10:05:00.000Z',
          paidBy: 'p1',
          payments: 2,
          anomalies: 1,
          refundedAmount: 1000,
        },
      ]);
    });

    it("keeps merchants' orders of one id in two rows, and adds a refund to a merchant's order from before ids were scoped", async () => {
      await store.apply([
        {
          projection: 'orders',
          after: 0,
          position: 4,
          changes: [
            placed('shop-a.o9', '2026-11-20T10:00:00.000Z', 'shop-a'),
            placed('shop-b.o9', '2026-11-20T10:00:01.000Z', 'shop-b'),
            // Placed with shop-a's key before ids were scoped: its row is the plain id.
            placed('o7', '2026-11-20T10:00:02.000Z', 'shop-a'),
            placed('o8', '2026-11-20T10:00:03.000Z', 'shop-b'),
          ],
        },
      ]);
      await store.apply([
        {
          projection: 'orders',
          after: 4,
          position: 6,
          changes: [
            order('shop-a.o9', { refundedAdded: 10 }),
            // From refund events: shop-a's o7 (its legacy row), and shop-a's o8, which does not exist (shop-b's o8 is not it).
            order('shop-a.o7', { refundedAdded: 20, legacy: { orderId: 'o7', merchantId: 'shop-a' } }),
            order('shop-a.o8', { refundedAdded: 30, legacy: { orderId: 'o8', merchantId: 'shop-a' } }),
          ],
        },
      ]);

      const rows = await store.orders({ limit: 10 });
      expect(rows.map(({ orderId, orderKey, merchantId, refundedAmount }) => ({ orderId, orderKey, merchantId, refundedAmount }))).toEqual([
        { orderId: 'o8', orderKey: 'o8', merchantId: 'shop-b', refundedAmount: 0 },
        { orderId: 'o7', orderKey: 'o7', merchantId: 'shop-a', refundedAmount: 20 },
        { orderId: 'o9', orderKey: 'shop-b.o9', merchantId: 'shop-b', refundedAmount: 0 },
        { orderId: 'o9', orderKey: 'shop-a.o9', merchantId: 'shop-a', refundedAmount: 10 },
      ]);
    });

    it('applies runs of new orders, with updates and a repeated creation among them, as one change after another', async () => {
      const paidAtOnce = order('o2', {
        placed: { merchantId: null, amount: 250, currency: 'USD', createdAt: '2026-11-20T10:01:00.000Z', expiresAt: '2026-11-20T12:00:00.000Z' },
        paymentsAdded: 1,
        ended: { status: 'paid', at: '2026-11-20T10:01:30.000Z', paidBy: 'p2' },
      });
      await store.apply([
        {
          projection: 'orders',
          after: 0,
          position: 9,
          changes: [
            placed('o1', '2026-11-20T10:00:00.000Z'),
            paidAtOnce,
            order('o1', { paymentsAdded: 1 }),
            placed('o3', '2026-11-20T10:02:00.000Z'),
            placed('o4', '2026-11-20T10:03:00.000Z'),
            order('o4', { paymentsAdded: 2 }),
            placed('o4', '2026-11-20T10:03:00.000Z'), // a repeat adds nothing and ends nothing
            order('o1', { ended: { status: 'expired', at: '2026-11-20T12:00:00.000Z', paidBy: null } }),
          ],
        },
      ]);
      const rows = await store.orders({ limit: 10 });
      expect(rows.map(({ orderId, status, payments, merchantId, amount, currency, endedAt, paidBy }) => [orderId, status, payments, merchantId, amount, currency, endedAt, paidBy])).toEqual([
        ['o4', 'pending', 2, 'shop-a', 1000, 'CNY', null, null],
        ['o3', 'pending', 0, 'shop-a', 1000, 'CNY', null, null],
        ['o2', 'paid', 1, null, 250, 'USD', '2026-11-20T10:01:30.000Z', 'p2'],
        ['o1', 'expired', 1, 'shop-a', 1000, 'CNY', '2026-11-20T12:00:00.000Z', null],
      ]);
      expect((await store.checkpoints()).orders.position).toBe(9);
    });

    it('lists orders newest first, filtered by status, merchant and time, a page after a cursor', async () => {
      await store.apply([
        {
          projection: 'orders',
          after: 0,
          position: 5,
          changes: [
            placed('o1', '2026-11-20T10:00:00.000Z'),
            placed('o2', '2026-11-20T10:01:00.000Z', 'shop-b'),
            placed('o3', '2026-11-20T10:02:00.000Z'),
            placed('o4', '2026-11-20T10:02:00.000Z'),
            order('o3', { ended: { status: 'closed', at: '2026-11-20T10:03:00.000Z', paidBy: null } }),
          ],
        },
      ]);
      const ids = async (query: Parameters<ProjectionStore['orders']>[0]) => (await store.orders(query)).map((row) => row.orderId);

      expect(await ids({ limit: 10 })).toEqual(['o4', 'o3', 'o2', 'o1']);
      expect(await ids({ limit: 10, status: 'closed' })).toEqual(['o3']);
      expect(await ids({ limit: 10, merchantId: 'shop-b' })).toEqual(['o2']);
      expect(await ids({ limit: 10, from: '2026-11-20T10:01:00.000Z', to: '2026-11-20T10:02:00.000Z' })).toEqual(['o2']);
      expect(await ids({ limit: 2, after: { at: '2026-11-20T10:02:00.000Z', id: 'o3' } })).toEqual(['o2', 'o1']);
    });

    it('records an anomaly and its refund: requested, failed, succeeded', async () => {
      await store.apply([
        {
          projection: 'anomalies',
          after: 0,
          position: 4,
          changes: [
            anomaly('p2', { detected: { orderId: 'o1', anomalyKind: 'duplicate-payment', detectedAt: '2026-11-20T10:00:00.000Z' } }),
            anomaly('p2', { refundStatus: 'requested', refundRequested: { at: '2026-11-20T10:00:01.000Z', amount: 1000, currency: 'CNY' } }),
            anomaly('p2', { refundStatus: 'failed', refundFailuresAdded: 1 }),
          ],
        },
      ]);
      expect(await store.anomalies({ limit: 10 })).toEqual([
        {
          paymentId: 'p2',
          orderId: 'o1',
          kind: 'duplicate-payment',
          detectedAt: '2026-11-20T10:00:00.000Z',
          refundStatus: 'failed',
          refundRequestedAt: '2026-11-20T10:00:01.000Z',
          refundCompletedAt: null,
          refundFailures: 1,
          amount: 1000,
          currency: 'CNY',
        },
      ]);

      await store.apply([{ projection: 'anomalies', after: 4, position: 5, changes: [anomaly('p2', { refundStatus: 'succeeded', refundCompletedAt: '2026-11-20T10:01:00.000Z' })] }]);

      expect(await store.anomalies({ limit: 10, kind: 'duplicate-payment' })).toEqual([
        expect.objectContaining({ refundStatus: 'succeeded', refundCompletedAt: '2026-11-20T10:01:00.000Z' }),
      ]);
      expect(await store.anomalies({ limit: 10, kind: 'paid-after-close' })).toEqual([]);
    });

    it("settles captures once per payment and refunds on the capturing payment's channel, by day", async () => {
      await store.apply([
        {
          projection: 'settlement',
          after: 0,
          position: 5,
          changes: [
            captured('p1', 'sandbox-bank', 700),
            captured('p2', 'sandbox-wallet', 500),
            captured('p2', 'sandbox-wallet', 500),
            { kind: 'refunded', paymentId: 'p2', currency: 'CNY', amount: 500, day: '2026-11-21' },
            { kind: 'refunded', paymentId: 'p-unknown', currency: 'CNY', amount: 1, day: '2026-11-21' },
          ],
        },
      ]);

      const row = (day: string, channel: string, capturedAmount: number, capturedCount: number, refundedAmount: number, refundedCount: number) => ({
        day,
        channel,
        currency: 'CNY',
        capturedAmount: String(capturedAmount),
        capturedCount,
        refundedAmount: String(refundedAmount),
        refundedCount,
      });
      expect(await store.settlement({})).toEqual([
        row('2026-11-20', 'sandbox-bank', 700, 1, 0, 0),
        row('2026-11-20', 'sandbox-wallet', 500, 1, 0, 0),
        row('2026-11-21', 'sandbox-wallet', 0, 0, 500, 1),
        row('2026-11-21', 'unknown', 0, 0, 1, 1),
      ]);
      expect((await store.settlement({ fromDay: '2026-11-21', toDay: '2026-11-21' })).map((r) => r.channel)).toEqual(['sandbox-wallet', 'unknown']);
    });

    it('sums settlement money exactly past 2^53, within a batch and across batches, and reads it back as digits', async () => {
      const max = Number.MAX_SAFE_INTEGER; // 9007199254740991, the largest amount an order may have
      await store.apply([
        {
          projection: 'settlement',
          after: 0,
          position: 3,
          changes: [captured('big1', 'sandbox-bank', max), captured('big2', 'sandbox-bank', max), captured('big3', 'sandbox-bank', max)],
        },
      ]);
      // As JS numbers, 3 * max is 27021597764222972: off by one, silently.
      expect(String(3 * max)).toBe('27021597764222972');
      expect(await store.settlement({})).toEqual([expect.objectContaining({ capturedAmount: '27021597764222973', capturedCount: 3 })]);

      // Past 2^63 too (where SQLite's and PostgreSQL bigint's integers end): 1100 more captures of the maximum, in later batches.
      const many = Array.from({ length: 1100 }, (_, i) => captured(`huge${i}`, 'sandbox-bank', max));
      await store.apply([{ projection: 'settlement', after: 3, position: 4, changes: many.slice(0, 600) }]);
      await store.apply([
        {
          projection: 'settlement',
          after: 4,
          position: 6,
          changes: [...many.slice(600), { kind: 'refunded', paymentId: 'big1', currency: 'CNY', amount: max, day: '2026-11-20' }],
        },
      ]);

      const expected = (BigInt(max) * 1103n).toString();
      expect(BigInt(expected) > 2n ** 63n).toBe(true);
      expect(await store.settlement({})).toEqual([
        {
          day: '2026-11-20',
          channel: 'sandbox-bank',
          currency: 'CNY',
          capturedAmount: expected,
          capturedCount: 1103,
          refundedAmount: String(max),
          refundedCount: 1,
        },
      ]);
      expect((await store.rows('settlement', null, 10))[0].row).toMatchObject({ capturedAmount: expected, refundedAmount: String(max) });
    });

    it('leaves alone a row that does not exist when a change only updates it', async () => {
      await store.apply([
        {
          projection: 'orders',
          after: 0,
          position: 2,
          changes: [order('ghost', { paymentsAdded: 1, ended: { status: 'paid', at: '2026-11-20T10:05:00.000Z', paidBy: 'p1' } })],
        },
        { projection: 'anomalies', after: 0, position: 2, changes: [anomaly('ghost-payment', { refundStatus: 'succeeded', refundCompletedAt: '2026-11-20T10:05:00.000Z' })] },
      ]);

      expect(await store.orders({ limit: 10 })).toEqual([]);
      expect(await store.anomalies({ limit: 10 })).toEqual([]);
    });

    it('keeps the first creation of a row, and adds what a repeated creation carries to it', async () => {
      await store.apply([{ projection: 'orders', after: 0, position: 1, changes: [placed('o1', '2026-11-20T10:00:00.000Z')] }]);
      await store.apply([
        {
          projection: 'orders',
          after: 1,
          position: 2,
          changes: [order('o1', { placed: { merchantId: 'other', amount: 5, currency: 'USD', createdAt: '2026-11-21T00:00:00.000Z', expiresAt: '2026-11-21T01:00:00.000Z' }, paymentsAdded: 2 })],
        },
      ]);

      expect(await store.orders({ limit: 10 })).toEqual([expect.objectContaining({ orderId: 'o1', merchantId: 'shop-a', amount: 1000, status: 'pending', payments: 2 })]);
    });

    it('resets one projection: its rows and checkpoint go, with the version that will rebuild it', async () => {
      await store.apply([
        { projection: 'orders', after: 0, position: 2, changes: [placed('o1', '2026-11-20T10:00:00.000Z')] },
        { projection: 'settlement', after: 0, position: 2, changes: [captured('p1', 'sandbox-bank', 700)] },
      ]);

      await store.reset('settlement', 7, 'timeZone=Asia/Shanghai');

      expect(await store.settlement({})).toEqual([]);
      expect(await store.rows('settlement-captures', null, 10)).toEqual([]);
      expect((await store.orders({ limit: 10 })).length).toBe(1);
      expect(await store.checkpoints()).toMatchObject({ settlement: { position: 0, version: 7, settings: 'timeZone=Asia/Shanghai' }, orders: { position: 2 } });
    });

    describeSettlementDays(() => store);
    it('gives every row of a table in key order, a page at a time', async () => {
      await store.apply([
        {
          projection: 'orders',
          after: 0,
          position: 3,
          changes: [placed('o-b', '2026-11-20T10:00:00.000Z'), placed('o-a', '2026-11-20T10:01:00.000Z'), placed('o-c', '2026-11-20T10:02:00.000Z')],
        },
      ]);

      const first = await store.rows('orders', null, 2);
      const rest = await store.rows('orders', first[1].key, 2);

      expect([...first, ...rest].map((row) => row.key)).toEqual(['o-a', 'o-b', 'o-c']);
      expect(first[0].row).toMatchObject({ orderId: 'o-a', amount: 1000 });
    });
  });
}
