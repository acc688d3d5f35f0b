/**
 * The real process killed with SIGKILL while a delivery is at the receiver, and started again on
 * the same data directory: the unacknowledged event is delivered again with the same id, and an
 * acknowledged one is not sent again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/harness.js';
import { MAIN, callJson, ensureBuilt, spawnService, type ServiceProcess } from '../support/processes.js';
import { startReceiver, type Receiver } from './webhooks-receiver.js';

beforeAll(() => ensureBuilt(), 180_000);

describe('a webhook delivery cut by kill -9', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'payguard-webhooks-crash-'));
  const env = { DATA_DIR: dataDir, WEBHOOK_ALLOW_PRIVATE: 'true', SANDBOX_NOTIFY_DELAY_MS: '0', PAYMENT_MIN_VALIDITY_SECONDS: '1', CHANNEL_EXPIRY_MARGIN_SECONDS: '0', API_KEYS: '', LOG_LEVEL: 'warn' };
  let service: ServiceProcess | null = null;
  let receiver: Receiver;
  /** Set while the receiver holds its answer to the second order's delivery. */
  let hold: { arrived: () => void; release: Promise<void> } | null = null;

  afterAll(async () => {
    await service?.kill();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const paidOrder = async (orderId: string): Promise<void> => {
    expect((await callJson(service!.url, 'POST', '/orders', { orderId, amount: 1500, currency: 'CNY' })).status).toBe(201);
    const payment = await callJson(service!.url, 'POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' });
    expect(payment.status).toBe(201);
    expect((await callJson(service!.url, 'POST', `/sandbox/pay/${payment.body.paymentId}`, {})).status).toBe(200);
  };
  const deliveriesSettled = (endpointId: string) =>
    eventually(
      () => callJson(service!.url, 'GET', `/webhook-endpoints/${endpointId}/deliveries`),
      (answer) => answer.status === 200 && answer.body.deliveries.length > 0 && answer.body.deliveries.every((d: any) => d.status === 'succeeded'),
      20_000,
      'every delivery acknowledged and recorded',
    );

  it('delivers the event again after the restart, with the same id, and nothing acknowledged twice', async () => {
    receiver = await startReceiver(async (event) => {
      if (hold !== null && event.data.orderId === 'crash-2') {
        hold.arrived();
        await hold.release;
      }
      return 200;
    });
    service = await spawnService('payguard', MAIN, env);
    const created = await callJson(service.url, 'POST', '/webhook-endpoints', { url: receiver.url, events: ['order.paid'] });
    expect(created.status).toBe(201);
    receiver.setSecret(created.body.secret);

    await paidOrder('crash-1');
    await deliveriesSettled(created.body.id);

    let release!: () => void;
    const arrived = new Promise<void>((resolve) => {
      hold = { arrived: resolve, release: new Promise<void>((done) => (release = done)) };
    });
    await paidOrder('crash-2');
    await arrived;
    await service.kill('SIGKILL');
    hold = null;
    release();

    service = await spawnService('payguard', MAIN, env);
    await eventually(async () => receiver.acknowledged().filter((r) => r.data.orderId === 'crash-2').length, (n) => n === 1, 20_000, 'crash-2 delivered after the restart');
    await deliveriesSettled(created.body.id);

    const of = (orderId: string) => receiver.received.filter((r) => r.data.orderId === orderId);
    expect(of('crash-1').map((r) => r.answered)).toEqual([200]);
    expect(of('crash-2').map((r) => r.answered)).toEqual([0, 200]);
    expect(new Set(of('crash-2').map((r) => r.id)).size).toBe(1);
    expect(receiver.received.every((r) => r.signed && r.type === 'order.paid')).toBe(true);
  });
});
