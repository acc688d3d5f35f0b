/**
 * `payguard reconcile`: the log against what the provider holds. Offline verify reads only the
 * log, so each difference here is one it could not see.
 */
import { runAuditCli } from '../../src/infrastructure/cli/audit-cli.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

describe('payguard reconcile', () => {
  let app: TestApp;
  beforeAll(async () => {
    // The sweep runs only every ten minutes here, so nothing repairs a difference before it is asked about.
    app = await startTestApp({ RECONCILE_INTERVAL_SECONDS: '600' });
  });
  afterAll(() => app.close());
  afterEach(() => app.faults({}));

  async function reconcile(...extra: string[]) {
    let out = '';
    const code = await runAuditCli(
      ['reconcile', '--data-dir', app.dataDir, '--gateway-url', `${app.url}/sandbox`, '--grace', '0', '--json', ...extra],
      { EVENT_STORE: 'sqlite' },
      { out: async (text) => void (out += text), err: () => undefined },
    );
    const lines = out.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));
    return { code, findings: lines.filter((line) => line.finding).map((line) => line.finding), summary: lines.find((line) => line.summary)?.summary };
  }

  async function paidOrder(orderId: string, channel = 'sandbox-bank'): Promise<string> {
    expect((await app.request('POST', '/orders', { orderId, amount: 1500, currency: 'CNY' })).status).toBe(201);
    const { paymentId } = (await app.request('POST', `/orders/${orderId}/payments`, { channel })).body;
    expect((await app.pay(paymentId)).status).toBe(200);
    await eventually(() => app.request('GET', `/orders/${orderId}`), (answer) => answer.body.status === 'paid', 10_000, `${orderId} paid`);
    return paymentId;
  }

  it('finds nothing to report when the log and the provider agree', async () => {
    await paidOrder('rc-agree');
    await app.settle();
    const run = await reconcile();
    expect(run.findings).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.summary).toMatchObject({ differences: 0 });
    expect(run.summary.tradesAsked).toBeGreaterThanOrEqual(1);
  });

  it('reports money the provider took that the log does not know, a kept payment refunded at the provider, and a trade still payable after its order closed', async () => {
    // A capture whose notification was lost.
    expect((await app.request('POST', '/orders', { orderId: 'rc-lost', amount: 900, currency: 'CNY' })).status).toBe(201);
    const lost = (await app.request('POST', '/orders/rc-lost/payments', { channel: 'sandbox-wallet' })).body.paymentId;
    await app.faults({ dropNotifications: true });
    expect((await app.pay(lost)).status).toBe(200);
    // A kept payment the merchant refunded by hand at the provider.
    await app.faults({});
    const kept = await paidOrder('rc-kept');
    expect((await app.request('POST', `/sandbox/api/bank/trades/${kept}/refunds`, { outRequestNo: 'by-hand', amount: 1500, currency: 'CNY' })).status).toBe(200);
    // An order closed while its provider was down: the close never reached the trade.
    expect((await app.request('POST', '/orders', { orderId: 'rc-closed', amount: 700, currency: 'CNY' })).status).toBe(201);
    const open = (await app.request('POST', '/orders/rc-closed/payments', { channel: 'sandbox-bank' })).body.paymentId;
    await app.faults({ apiDown: true });
    expect((await app.request('POST', '/orders/rc-closed/close', {})).status).toBe(200);
    await app.faults({});
    await app.settle();

    const run = await reconcile();
    expect(run.code).toBe(1);
    expect(run.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ difference: 'capture-unrecorded', paymentId: lost, orderId: 'rc-lost' }),
        expect.objectContaining({ difference: 'kept-but-refunded', paymentId: kept, orderId: 'rc-kept' }),
        expect.objectContaining({ difference: 'payable-after-end', paymentId: open, orderId: 'rc-closed' }),
      ]),
    );
    expect(run.findings).toHaveLength(3);
  });

  it('says it could not verify when the provider does not answer, and exits 1', async () => {
    await app.faults({ apiDown: true });
    const run = await reconcile();
    expect(run.code).toBe(1);
    expect(run.findings.length).toBeGreaterThan(0);
    expect(new Set(run.findings.map((finding: { difference: string }) => finding.difference))).toEqual(new Set(['unverified']));
  });
});
