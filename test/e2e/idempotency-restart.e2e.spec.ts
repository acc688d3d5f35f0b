/**
 * Idempotency-Key answers are kept beside the events, so they outlive the process: a retry sent
 * after a restart of the service (the same SQLite DATA_DIR, or the same PostgreSQL schema) gets
 * the first answer again and runs nothing; another request with the key is still a conflict.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/harness.js';
import { DATABASE_URL, dropSchema, postgresUnreachable } from '../support/postgres.js';

const unreachable = await postgresUnreachable();

/** Places an order and starts its payment with keys, restarts, and sends both again with the same keys. */
async function replaysAcrossRestart(start: () => Promise<TestApp>): Promise<void> {
  let app = await start();
  const orderBody = { amount: 4200, currency: 'CNY', description: `restart-${randomBytes(3).toString('hex')}` };
  let order, payment, head;
  try {
    order = await app.request('POST', '/orders', orderBody, { 'Idempotency-Key': 'restart-order' });
    expect(order.status).toBe(201);
    payment = await app.request('POST', `/orders/${order.body.orderId}/payments`, { channel: 'sandbox-bank' }, { 'Idempotency-Key': 'restart-pay' });
    expect(payment.status).toBe(201);
    head = await app.running.store.headPosition();
  } finally {
    await app.close();
  }

  app = await start();
  try {
    const orderAgain = await app.request('POST', '/orders', orderBody, { 'Idempotency-Key': 'restart-order' });
    expect(orderAgain.status).toBe(201);
    expect(orderAgain.headers.get('idempotent-replayed')).toBe('true');
    expect(orderAgain.body).toEqual(order.body);
    expect(orderAgain.headers.get('content-type')).toBe(order.headers.get('content-type'));
    const paymentAgain = await app.request('POST', `/orders/${order.body.orderId}/payments`, { channel: 'sandbox-bank' }, { 'Idempotency-Key': 'restart-pay' });
    expect(paymentAgain.status).toBe(201);
    expect(paymentAgain.headers.get('idempotent-replayed')).toBe('true');
    expect(paymentAgain.body.paymentId).toBe(payment.body.paymentId);
    expect(await app.running.store.headPosition()).toBe(head);
    const conflict = await app.request('POST', '/orders', { ...orderBody, amount: 4201 }, { 'Idempotency-Key': 'restart-order' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.type).toBe('https://payguard.dev/problems/idempotency-conflict');
    const placed = (await app.request('GET', '/audit/events?limit=1000')).body.events.filter(
      (event: any) => event.type === 'OrderPlaced' && event.data.description === orderBody.description,
    );
    expect(placed).toHaveLength(1);
  } finally {
    await app.close();
  }
}

describe('Idempotency-Key across a restart on SQLite', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'payguard-idem-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('replays the first answers from the same DATA_DIR', async () => {
    await replaysAcrossRestart(() => startTestApp({}, { keepDataDir: dataDir }));
  });
});

if (unreachable === null) {
  describe('Idempotency-Key across a restart on PostgreSQL', () => {
    const schema = `payguard_idem_e2e_${randomBytes(4).toString('hex')}`;
    afterAll(() => dropSchema(schema));

    it('replays the first answers from the same schema', async () => {
      await replaysAcrossRestart(() => startTestApp({ EVENT_STORE: 'postgres', DATABASE_URL, DATABASE_SCHEMA: schema }));
    });
  });
} else {
  describe.skip(`Idempotency-Key across a restart on PostgreSQL (skipped: ${unreachable})`, () => {
    it('replays the first answers from the same schema', () => undefined);
  });
}
