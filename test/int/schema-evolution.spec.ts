/**
 * Events written in schema version 0 (nested money, no merchant, no requested expiry; see
 * upcaster.ts) are read in the current shape everywhere: by the service, the projections and the
 * auditors' tools. test/fixtures/schema-v0.ndjson is such a log: order v0-D paid after a failed
 * attempt, order v0-A paid twice with the duplicate refunded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upcast } from '../../src/application/event-sourcing/upcaster.js';
import type { RecordedEvent } from '../../src/application/ports/event-store.port.js';
import { runAuditCli } from '../../src/infrastructure/cli/audit-cli.js';
import { readFixture, writeRawSqlite } from '../support/fixture-store.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const v0Log = readFixture('schema-v0');

describe('the upcaster', () => {
  const placedV0 = v0Log.find((event) => event.type === 'OrderPlaced' && event.data.orderId === 'v0-A')!;

  it('turns a v0 OrderPlaced into the current shape: flat money, no merchant, the deadline as the requested expiry', () => {
    expect(placedV0.data).toEqual({ orderId: 'v0-A', expiresAt: '2026-11-20T10:38:00.000Z', createdAt: '2026-11-20T10:08:00.000Z', price: { amount: 1999, currency: 'CNY' } });

    expect(upcast(placedV0).data).toEqual({
      orderId: 'v0-A',
      merchantId: null,
      amount: 1999,
      currency: 'CNY',
      expiresAt: '2026-11-20T10:38:00.000Z',
      requestedExpiry: { expiresAt: '2026-11-20T10:38:00.000Z' },
      description: null,
      createdAt: '2026-11-20T10:08:00.000Z',
    });
  });

  it('flattens the money of every v0 event that carries some, and keeps the version it was written in', () => {
    const withMoney = v0Log.filter((event) => 'price' in event.data);

    expect(withMoney.map((event) => event.type).sort()).toEqual(
      ['OrderPaid', 'OrderPaid', 'OrderPlaced', 'OrderPlaced', 'PaymentAttemptStarted', 'PaymentAttemptStarted', 'PaymentAttemptStarted', 'PaymentAttemptStarted',
        'PaymentInitiated', 'PaymentInitiated', 'PaymentInitiated', 'PaymentInitiated', 'PaymentSucceeded', 'PaymentSucceeded', 'PaymentSucceeded',
        'RefundRequested', 'RefundSucceeded'].sort(),
    );
    for (const event of withMoney) {
      const current = upcast(event);
      expect(current.data).toMatchObject({ amount: (event.data.price as any).amount, currency: (event.data.price as any).currency });
      expect(current.data).not.toHaveProperty('price');
      expect(current.metadata.schemaVersion).toBe(0);
    }
  });

  it('changes nothing when applied again, nor on a current event', () => {
    const once = upcast(v0Log[0]);
    const current: RecordedEvent = { ...once, metadata: { ...once.metadata, schemaVersion: 2 } };

    expect(upcast(once)).toEqual(once);
    expect(upcast(current)).toBe(current);
  });
});

describe('a store written in schema version 0', () => {
  let dataDir: string;
  const cli = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runAuditCli([...argv, '--data-dir', dataDir], { EVENT_STORE: 'sqlite' }, { out: async (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  };
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'payguard-v0-'));
    await writeRawSqlite(dataDir, v0Log);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('verifies: replayed through the domain, every money invariant holds', async () => {
    const run = await cli('verify', '--grace', '0');

    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^OK: 20 events \(2 orders, 4 payments, last position 20\), 0 violation\(s\)/);
  });

  it('exports the events in the current shape, or as stored with --raw', async () => {
    const current = (await cli('export', '--stream', 'order-v0-A')).out.split('\n')[0];
    const raw = (await cli('export', '--stream', 'order-v0-A', '--raw')).out.split('\n')[0];

    expect(JSON.parse(current).data).toMatchObject({ amount: 1999, currency: 'CNY', merchantId: null });
    expect(JSON.parse(raw).data).toMatchObject({ price: { amount: 1999, currency: 'CNY' } });
    expect(JSON.parse(raw).data).not.toHaveProperty('merchantId');
  });

  it('shows an order as it stood, folded from the old shapes', async () => {
    const run = await cli('show', 'order', 'v0-A');

    expect(JSON.parse(run.out)).toMatchObject({
      merchantId: null,
      order: {
        status: 'paid',
        amount: 1999,
        currency: 'CNY',
        payments: [{ amount: 1999, currency: 'CNY', status: 'succeeded' }, { amount: 1999, currency: 'CNY', status: 'succeeded' }],
        refunds: [{ amount: 1999, currency: 'CNY', reason: 'duplicate-payment', status: 'succeeded' }],
      },
    });
  });

  describe('served by the service', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({}, { keepDataDir: dataDir });
      await app.settle();
    });
    afterAll(() => app.close());

    it('answers for its old orders, and decides on them, as for new ones', async () => {
      const order = await app.request('GET', '/orders/v0-D');
      const close = await app.request('POST', '/orders/v0-D/close', {});

      expect(order.body).toMatchObject({ orderId: 'v0-D', status: 'paid', amount: 700, currency: 'CNY', payments: [{ status: 'failed' }, { status: 'succeeded' }] });
      expect(close.status).toBe(409);
      expect(close.body.type).toBe('https://payguard.dev/problems/order-not-closable');
    });

    it('builds its reports from the old events', async () => {
      const orders = await app.request('GET', '/orders');
      const settlement = await app.request('GET', '/reports/settlement');

      expect(orders.body.orders.map((o: { orderId: string; merchantId: null; amount: number }) => [o.orderId, o.merchantId, o.amount])).toEqual([
        ['v0-A', null, 1999],
        ['v0-D', null, 700],
      ]);
      expect(settlement.body.totals).toEqual([{ currency: 'CNY', capturedAmount: String(700 + 1999 + 1999), capturedCount: 3, refundedAmount: '1999', refundedCount: 1, netAmount: String(700 + 1999) }]);
    });
  });
});
