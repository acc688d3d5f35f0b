/**
 * Facts decide, not the moment we learn them: a payment the provider took after the order's
 * expiresAt is refunded as paid-after-expiry, also when the service was killed (SIGKILL) before
 * expiresAt and learns of it only after it starts again. The provider runs alone, so it keeps its
 * trades across the restart, and the money is checked there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/harness.js';
import { MAIN, SANDBOX_MAIN, callJson as call, ensureBuilt, spawnService, type ServiceProcess } from '../support/processes.js';


describe('a payment taken while the service was down, after the order expired', () => {
  const processes: ServiceProcess[] = [];
  let gateway: ServiceProcess;
  let dataDir: string;

  beforeAll(async () => {
    ensureBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'payguard-truth-restart-'));
    gateway = await spawnService('sandbox', SANDBOX_MAIN, { SANDBOX_NOTIFY_DELAY_MS: '0' }, { portVariable: 'SANDBOX_PORT', readyPath: '/sandbox/faults' });
    processes.push(gateway);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((process) => process.kill()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const startService = async (): Promise<ServiceProcess> => {
    const service = await spawnService('payguard', MAIN, {
      DATA_DIR: dataDir,
      SANDBOX_GATEWAY_URL: `${gateway.url}/sandbox`,
      SANDBOX_NOTIFY_DELAY_MS: '0',
      PAYMENT_MIN_VALIDITY_SECONDS: '1',
      CHANNEL_EXPIRY_MARGIN_SECONDS: '0',
      RECONCILE_INTERVAL_SECONDS: '1',
    });
    processes.push(service);
    return service;
  };

  it('is refunded as paid-after-expiry after a restart, just as it would be with the service up', async () => {
    let service = await startService();
    const order = await call(service.url, 'POST', '/orders', { orderId: 'killed-late', amount: 4200, currency: 'CNY', expiresInSeconds: 2 });
    expect(order.status).toBe(201);
    const payment = await call(service.url, 'POST', '/orders/killed-late/payments', { channel: 'sandbox-bank' });
    expect(payment.status).toBe(201);
    const { paymentId } = payment.body;

    await service.kill('SIGKILL');
    // The provider takes the money after expiresAt (it ignores its time limit); nobody hears of it.
    await call(gateway.url, 'PUT', '/sandbox/faults', { ignoreTimeExpire: true, dropNotifications: true });
    await eventually(async () => Date.now(), (now) => now > Date.parse(order.body.expiresAt) + 1000, 10_000, 'a second past expiresAt');
    const paid = await call(gateway.url, 'POST', `/sandbox/pay/${paymentId}`, {});
    expect(paid.body).toMatchObject({ status: 'PAID' });
    await call(gateway.url, 'PUT', '/sandbox/faults', {});

    service = await startService();
    const settled = await eventually(
      () => call(service.url, 'GET', '/orders/killed-late'),
      (answer) => answer.body.status !== 'pending' && answer.body.refunds[0]?.status === 'succeeded',
      20_000,
      'the late payment refunded',
    );
    expect(settled.body).toMatchObject({
      status: 'expired',
      anomalies: [{ kind: 'paid-after-expiry', paymentId }],
      refunds: [{ paymentId, reason: 'paid-after-expiry', amount: 4200, refundedAmount: 4200, status: 'succeeded' }],
    });
    expect(settled.body.paidBy).toBeUndefined();
    const trade = await call(gateway.url, 'GET', `/sandbox/api/bank/trades/${paymentId}`);
    expect(trade.body).toMatchObject({ status: 'PAID', refundedAmount: 4200 });
    expect(trade.body.refunds).toHaveLength(1);
  }, 60_000);
});
