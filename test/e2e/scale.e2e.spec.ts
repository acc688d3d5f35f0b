/**
 * Three Payguard processes on one PostgreSQL log and one shared provider, as a horizontally scaled
 * deployment runs: clients spread orders and payments over all three (each answers HTTP on its
 * own), one of them leads the background work. Under load, the leader is killed with SIGKILL;
 * clients retry what it dropped on another instance, one of the others takes the lead, and in the
 * end: every order is in the log once, every duplicate payment is refunded exactly once (at the
 * provider too), no payment has two refunds, and `payguard verify` finds the log sound.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eventually } from '../support/harness.js';
import { postgresCluster } from '../support/cluster.js';
import { ROOT, callJson as call, type ServiceProcess } from '../support/processes.js';
import { DATABASE_URL, postgresUnreachable } from '../support/postgres.js';

const unreachable = await postgresUnreachable();

if (unreachable !== null) {
  describe.skip(`three instances on one PostgreSQL (skipped: ${unreachable})`, () => {
    it('shares the load and survives the death of the leader with no double effect', () => undefined);
  });
} else {
  describe('three instances on one PostgreSQL', () => {
    const cluster = postgresCluster('payguard_scale');
    const { schema } = cluster;
    const startInstance = (name: string) => cluster.startInstance(name, { LOG_LEVEL: 'warn' });

    const role = async (instance: ServiceProcess): Promise<string | undefined> =>
      (await call(instance.url, 'GET', '/health/ready').catch(() => ({ body: undefined }))).body?.role;

    /** A client call that, when its instance is gone (connection refused or reset), tries the next one. */
    async function callAny(instances: () => ServiceProcess[], start: number, method: string, path: string, body?: unknown) {
      for (let attempt = 0; ; attempt++) {
        const live = instances();
        const instance = live[(start + attempt) % live.length];
        try {
          return { ...(await call(instance.url, method, path, body)), instance: instance.name };
        } catch (error) {
          if (attempt >= 10) throw error;
        }
      }
    }

    it('shares the load and survives the death of the leader under load with no double effect', async () => {
      const instances: ServiceProcess[] = [];
      for (const name of ['instance-a', 'instance-b', 'instance-c']) {
        const started = await startInstance(name);
        instances.push(started);
      }
      const roles = await Promise.all(instances.map(role));
      expect([...roles].sort()).toEqual(['leader', 'standby', 'standby']);
      const leader = instances[roles.indexOf('leader')];
      let killed = false;
      const alive = () => instances.filter((instance) => !(killed && instance === leader));

      // Load: 6 clients placing orders round-robin over the live instances, each order retried
      // with its id elsewhere when its instance died under it (placement is idempotent by id).
      const placed = new Map<string, string>();
      let stop = false;
      const clients = Array.from({ length: 6 }, async (_, c) => {
        for (let i = 0; !stop; i++) {
          const orderId = `load-${c}-${i}`;
          const answer = await callAny(alive, c + i, 'POST', '/orders', { orderId, amount: 100 + i, currency: 'CNY' });
          expect([200, 201]).toContain(answer.status);
          placed.set(orderId, answer.instance);
        }
      });

      // Meanwhile, duplicates: each order paid on two channels through two different instances.
      const duplicates = new Map<string, string[]>();
      const storm = async (i: number) => {
        const orderId = `dup-${i}`;
        expect([200, 201]).toContain((await callAny(alive, i, 'POST', '/orders', { orderId, amount: 1999, currency: 'CNY' })).status);
        const bank = await callAny(alive, i + 1, 'POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' });
        const wallet = await callAny(alive, i + 2, 'POST', `/orders/${orderId}/payments`, { channel: 'sandbox-wallet' });
        expect([bank.status, wallet.status].every((status) => status === 200 || status === 201)).toBe(true);
        const paymentIds = [bank.body.paymentId as string, wallet.body.paymentId as string];
        for (const paymentId of paymentIds) expect((await call(cluster.gateway().url, 'POST', `/sandbox/pay/${paymentId}`, {})).status).toBe(200);
        duplicates.set(orderId, paymentIds);
      };
      for (let i = 0; i < 8; i++) await storm(i);
      await leader.kill('SIGKILL');
      killed = true;
      for (let i = 8; i < 16; i++) await storm(i);
      await eventually(
        async () => (await Promise.all(alive().map(role))).filter((r) => r === 'leader').length,
        (leaders) => leaders === 1,
        15_000,
        'one survivor taking the lead',
      );
      stop = true;
      await Promise.all(clients);
      const [survivor] = alive();

      // Every duplicate refunded exactly once, at the provider too.
      for (const [orderId, paymentIds] of duplicates) {
        const order = await eventually(
          () => call(survivor.url, 'GET', `/orders/${orderId}`),
          (answer) => answer.body?.status === 'paid' && answer.body.refunds.length === 1 && answer.body.refunds[0].status === 'succeeded',
          30_000,
          `one succeeded refund for ${orderId}`,
        );
        const refunded = order.body.refunds[0].paymentId as string;
        expect(paymentIds).toContain(refunded);
        const trade = await call(cluster.gateway().url, 'GET', `/sandbox/api/${refunded === paymentIds[0] ? 'bank' : 'wallet'}/trades/${refunded}`);
        expect(trade.body.refunds).toHaveLength(1);
      }

      // The log, read from one survivor: every order once, one refund per duplicate, none twice.
      const events: { type: string; streamName: string; data: { orderId?: string; paymentId?: string } }[] = [];
      for (let after = 0; ; ) {
        const page = await call(survivor.url, 'GET', `/audit/events?after=${after}&limit=1000`);
        events.push(...page.body.events);
        if (page.body.events.length < 1000) break;
        after = page.body.next;
      }
      const placedInLog = events.filter((event) => event.type === 'OrderPlaced').map((event) => event.data.orderId);
      expect(new Set(placedInLog).size).toBe(placedInLog.length);
      for (const orderId of [...placed.keys(), ...duplicates.keys()]) expect(placedInLog).toContain(orderId);
      const refundRequests = events.filter((event) => event.type === 'RefundRequested').map((event) => event.data.paymentId);
      expect(refundRequests).toHaveLength(duplicates.size);
      expect(new Set(refundRequests).size).toBe(refundRequests.length);
      expect(events.filter((event) => event.type === 'RefundSucceeded')).toHaveLength(duplicates.size);
      // Every instance served orders: HTTP load is shared, not funnelled to the leader.
      for (const instance of instances) expect([...placed.values()]).toContain(instance.name);

      // The auditor's verdict on the whole log.
      const verified = await promisify(execFile)(
        process.execPath,
        ['dist/src/cli.js', 'verify', '--grace', '0', '--database-url', DATABASE_URL, '--schema', schema],
        { cwd: ROOT },
      ).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
      expect(verified.stdout).toMatch(/^OK: /m);
      expect(verified.code).toBe(0);
    }, 180_000);
  });
}
