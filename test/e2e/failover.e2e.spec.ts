/**
 * Two Payguard processes on one PostgreSQL log and one shared provider. Commands go to both; one
 * instance leads (process manager, refunds, deadlines, sweep). The leader is killed with SIGKILL in
 * the middle of a duplicate-payment storm: the other takes over within seconds, every duplicate
 * gets exactly one refund, and every order whose deadline passed expires.
 */
import { eventually } from '../support/harness.js';
import { postgresCluster } from '../support/cluster.js';
import { callJson as call, type ServiceProcess } from '../support/processes.js';
import { postgresUnreachable } from '../support/postgres.js';

const unreachable = await postgresUnreachable();

if (unreachable !== null) {
  describe.skip(`two instances on one PostgreSQL (skipped: ${unreachable})`, () => {
    it('fails over to the standby with no double effect', () => undefined);
  });
} else {
  describe('two instances on one PostgreSQL', () => {
    const cluster = postgresCluster('payguard_failover');
    const startInstance = (name: string) => cluster.startInstance(name, { PAYMENT_MIN_VALIDITY_SECONDS: '1', CHANNEL_EXPIRY_MARGIN_SECONDS: '0' });

    const role = async (instance: ServiceProcess): Promise<string> => (await call(instance.url, 'GET', '/health/ready')).body?.role;

    /** One order paid on two channels through two instances: a duplicate. */
    async function duplicate(orderId: string, first: ServiceProcess, second: ServiceProcess): Promise<string[]> {
      expect((await call(first.url, 'POST', '/orders', { orderId, amount: 1999, currency: 'CNY' })).status).toBe(201);
      const bank = await call(first.url, 'POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' });
      const wallet = await call(second.url, 'POST', `/orders/${orderId}/payments`, { channel: 'sandbox-wallet' });
      expect([bank.status, wallet.status]).toEqual([201, 201]);
      for (const paymentId of [bank.body.paymentId, wallet.body.paymentId]) {
        expect((await call(cluster.gateway().url, 'POST', `/sandbox/pay/${paymentId}`, {})).status).toBe(200);
      }
      return [bank.body.paymentId, wallet.body.paymentId];
    }

    it('refunds every duplicate once and expires every order, across the death of the leader', async () => {
      const a = await startInstance('instance-a');
      const b = await startInstance('instance-b');
      expect([await role(a), await role(b)].sort()).toEqual(['leader', 'standby']);
      const [leader, survivor] = (await role(a)) === 'leader' ? [a, b] : [b, a];

      const shortOrders = ['short-1', 'short-2', 'short-3'];
      for (const [index, orderId] of shortOrders.entries()) {
        const via = index % 2 === 0 ? leader : survivor;
        expect((await call(via.url, 'POST', '/orders', { orderId, amount: 500, currency: 'CNY', expiresInSeconds: 3 })).status).toBe(201);
      }

      const duplicates: Record<string, string[]> = {};
      for (let i = 0; i < 6; i++) duplicates[`storm-${i}`] = await duplicate(`storm-${i}`, i % 2 === 0 ? leader : survivor, i % 2 === 0 ? survivor : leader);
      await leader.kill('SIGKILL');
      for (let i = 6; i < 12; i++) duplicates[`storm-${i}`] = await duplicate(`storm-${i}`, survivor, survivor);

      await eventually(() => role(survivor), (current) => current === 'leader', 10_000, 'the survivor taking over');

      for (const [orderId, paymentIds] of Object.entries(duplicates)) {
        const order = await eventually(
          () => call(survivor.url, 'GET', `/orders/${orderId}`),
          (answer) => answer.body?.status === 'paid' && answer.body.refunds.length === 1 && answer.body.refunds[0].status === 'succeeded',
          30_000,
          `one succeeded refund for ${orderId}`,
        );
        const refunded = order.body.refunds[0].paymentId;
        expect(paymentIds).toContain(refunded);
        expect(order.body.paidBy).toBe(paymentIds.find((id) => id !== refunded));
        expect(order.body.refunds[0].reason).toBe('duplicate-payment');
        const provider = refunded === paymentIds[0] ? 'bank' : 'wallet';
        const trade = await call(cluster.gateway().url, 'GET', `/sandbox/api/${provider}/trades/${refunded}`);
        expect(trade.body.refunds).toHaveLength(1);
      }
      for (const orderId of shortOrders) {
        await eventually(
          () => call(survivor.url, 'GET', `/orders/${orderId}`),
          (answer) => answer.body?.status === 'expired',
          15_000,
          `${orderId} expired`,
        );
      }

      // The log agrees: one RefundRequested and one RefundSucceeded per duplicate, nothing more.
      const events: { type: string; data: { paymentId?: string } }[] = [];
      for (let after = 0; ; ) {
        const page = await call(survivor.url, 'GET', `/audit/events?after=${after}&limit=1000`);
        events.push(...page.body.events);
        if (page.body.events.length < 1000) break;
        after = page.body.next;
      }
      const count = (type: string) => events.filter((event) => event.type === type).length;
      expect(count('RefundRequested')).toBe(12);
      expect(count('RefundSucceeded')).toBe(12);
      expect(count('OrderExpired')).toBe(3);
      const refundedPayments = events.filter((event) => event.type === 'RefundRequested').map((event) => event.data.paymentId);
      expect(new Set(refundedPayments).size).toBe(12);
    }, 120_000);
  });
}
