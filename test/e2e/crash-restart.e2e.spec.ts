/**
 * The real process, killed with SIGKILL and started again on the same data directory: what was
 * recorded stays recorded, deadlines that passed while it was down are honoured right after it
 * starts, and duplicates end with exactly one refund.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWholeLog, type AuditEvent } from '../support/contract.js';
import { MAIN, ROOT, SANDBOX_MAIN, ensureBuilt, freePort } from '../support/processes.js';
import { eventually, type Answer } from '../support/harness.js';

const SANDBOX_SECRET = 'crash-restart-sandbox-secret';
const SHORT_VALIDITY_S = 3;

/** HTTP without connection reuse, so nothing pooled survives a killed process. */
function client(base: string) {
  return {
    request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = httpRequest(
          `${base}${path}`,
          { method, agent: false, headers: { accept: 'application/json', ...(payload !== undefined && { 'content-type': 'application/json' }), ...headers } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown = text;
              try {
                parsed = text === '' ? undefined : JSON.parse(text);
              } catch {
                // not JSON: keep the text
              }
              const answerHeaders = new Headers();
              for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') answerHeaders.set(name, value);
              resolve({ status: res.statusCode ?? 0, headers: answerHeaders, body: parsed as T });
            });
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
  };
}
type Client = ReturnType<typeof client>;

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

const spawned = new Set<Started>();

function startNode(script: string, env: Record<string, string>): Started {
  // A clean environment: nothing from the developer's shell (API_KEYS, NODE_OPTIONS...) leaks in.
  const child = spawn(process.execPath, [script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = { child, exited, output: () => chunks.join('') };
  spawned.add(started);
  return started;
}

async function killHard(started: Started): Promise<void> {
  if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGKILL');
  await started.exited;
  spawned.delete(started);
}

/** Waits until `path` answers 200, failing at once if the process dies. */
async function waitForAnswer(started: Started, http: Client, path: string, what: string): Promise<void> {
  await eventually(
    async () => {
      if (started.child.exitCode !== null || started.child.signalCode !== null) {
        throw new Error(`${what} exited (${started.child.exitCode ?? started.child.signalCode}):\n${started.output()}`);
      }
      return http.request('GET', path).then((answer) => answer.status, () => 0);
    },
    (status) => status === 200,
    20_000,
    `${what} answering ${path}`,
  );
}

/** Until the followers have handled the whole log, as /health/ready reports it. */
async function settled(http: Client): Promise<void> {
  await eventually(
    () => http.request('GET', '/health/ready'),
    (answer) => answer.status === 200 && Object.values(answer.body.lag as Record<string, number>).every((lag) => lag === 0),
    15_000,
    'followers caught up',
  );
}

/** A deadline is a known instant: waiting for it is not waiting for luck. */
async function waitUntil(instant: number): Promise<void> {
  while (Date.now() < instant) await new Promise((resolve) => setTimeout(resolve, Math.min(100, instant - Date.now())));
}

beforeAll(() => ensureBuilt(), 180_000);

/** Whatever a failed set-up left running. */
afterAll(async () => {
  await Promise.all([...spawned].map(killHard));
});

describe.each([
  { setup: 'the built-in sandbox provider', ownProvider: false },
  { setup: 'a sandbox provider running on its own', ownProvider: true },
])('a service killed and restarted, with $setup', ({ ownProvider }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'payguard-crash-'));
  let env: Record<string, string>;
  let service: Client;
  let gateway: Client;
  let firstRun: Started;
  let restartedAt: number;
  let logBeforeKill: AuditEvent[];
  const viewsBeforeKill = new Map<string, unknown>();
  const shortOrders: { orderId: string; expiresAt: string; payments: string[] }[] = [];
  let killedAt: number;
  /** Duplicates whose second success meets the crash (only with a provider that outlives it). */
  const lateDuplicates: { orderId: string; amount: number; bank: string; wallet: string }[] = [];

  const startService = async (): Promise<Started> => {
    const started = startNode(MAIN, env);
    await waitForAnswer(started, service, '/health/ready', 'payguard');
    return started;
  };
  const place = async (orderId: string, amount: number, expiresInSeconds?: number) => {
    const answer = await service.request('POST', '/orders', { orderId, amount, currency: 'CNY', ...(expiresInSeconds && { expiresInSeconds }) });
    if (answer.status !== 201) throw new Error(`order ${orderId}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const startPayment = async (orderId: string, channel: string): Promise<string> => {
    const answer = await service.request('POST', `/orders/${orderId}/payments`, { channel });
    if (answer.status !== 201) throw new Error(`payment on ${orderId}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.paymentId;
  };
  const pay = async (paymentId: string) => {
    const answer = await gateway.request('POST', `/sandbox/pay/${paymentId}`, {});
    if (answer.status !== 200) throw new Error(`paying ${paymentId}: ${answer.status} ${JSON.stringify(answer.body)}`);
  };
  const faults = async (set: Record<string, unknown>) => {
    const answer = await gateway.request('PUT', '/sandbox/faults', set);
    if (answer.status !== 200) throw new Error(`faults refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  };
  const orderOnceItIs = (orderId: string, accept: (body: any) => boolean, what: string, timeoutMs = 15_000) =>
    eventually(() => service.request('GET', `/orders/${orderId}`), (answer) => answer.status === 200 && accept(answer.body), timeoutMs, what);

  beforeAll(async () => {
    const port = await freePort();
    service = client(`http://127.0.0.1:${port}`);
    env = {
      PORT: String(port),
      DATA_DIR: dataDir,
      SANDBOX_NOTIFY_DELAY_MS: '0',
      PAYMENT_MIN_VALIDITY_SECONDS: '1',
      CHANNEL_EXPIRY_MARGIN_SECONDS: '0',
      SANDBOX_SECRET,
    };
    if (ownProvider) {
      const gatewayPort = await freePort();
      const provider = startNode(SANDBOX_MAIN, { SANDBOX_PORT: String(gatewayPort), SANDBOX_NOTIFY_DELAY_MS: '0', SANDBOX_SECRET });
      gateway = client(`http://127.0.0.1:${gatewayPort}`);
      await waitForAnswer(provider, gateway, '/sandbox/faults', 'sandbox gateway');
      env.SANDBOX_GATEWAY_URL = `http://127.0.0.1:${gatewayPort}/sandbox`;
    } else {
      gateway = service;
    }
    firstRun = await startService();

    // Orders well within their validity: one waiting for its payment, one paid.
    await place('long-pending', 1000);
    await startPayment('long-pending', 'sandbox-bank');
    await place('long-paid', 1100);
    await pay(await startPayment('long-paid', 'sandbox-wallet'));
    await orderOnceItIs('long-paid', (body) => body.status === 'paid', 'long-paid paid');

    // A duplicate paid and refunded before the crash.
    await place('dup-settled', 1200);
    const settledBank = await startPayment('dup-settled', 'sandbox-bank');
    const settledWallet = await startPayment('dup-settled', 'sandbox-wallet');
    await pay(settledBank);
    await orderOnceItIs('dup-settled', (body) => body.status === 'paid', 'dup-settled paid');
    await pay(settledWallet);
    await orderOnceItIs('dup-settled', (body) => body.refunds[0]?.status === 'succeeded', 'dup-settled refunded');

    if (ownProvider) {
      for (const [orderId, amount] of [['dup-unheard', 1300], ['dup-recorded', 1350]] as const) {
        await place(orderId, amount);
        const duplicate = { orderId, amount, bank: await startPayment(orderId, 'sandbox-bank'), wallet: await startPayment(orderId, 'sandbox-wallet') };
        await pay(duplicate.bank);
        await orderOnceItIs(orderId, (body) => body.status === 'paid', `${orderId} paid`);
        lateDuplicates.push(duplicate);
      }
    }

    await settled(service);
    for (const orderId of ['long-pending', 'long-paid', 'dup-settled']) viewsBeforeKill.set(orderId, (await service.request('GET', `/orders/${orderId}`)).body);

    // Orders that run out while the service is down.
    for (const [orderId, channels] of [
      ['short-one-attempt', ['sandbox-bank']],
      ['short-two-attempts', ['sandbox-bank', 'sandbox-wallet']],
      ['short-no-attempt', []],
    ] as const) {
      const order = await place(orderId, 1400, SHORT_VALIDITY_S);
      const payments: string[] = [];
      for (const channel of channels) payments.push(await startPayment(orderId, channel));
      shortOrders.push({ orderId, expiresAt: order.expiresAt, payments });
    }

    logBeforeKill = await readWholeLog(service);
    if (ownProvider) {
      const [unheard, recorded] = lateDuplicates;
      // Paid at the provider, its notification sent only once the service is down.
      await faults({ notifyDelayMs: 2_000 });
      await pay(unheard.wallet);
      await faults({});
      // Recorded by the service, which dies while it reacts (anomaly, refund request, refund).
      await pay(recorded.wallet);
      await eventually(
        () => service.request('GET', `/payments/${recorded.wallet}`),
        (answer) => answer.body.status === 'succeeded',
        10_000,
        'second success recorded',
      );
    }
    await killHard(firstRun);
    killedAt = Date.now();

    await waitUntil(Math.max(...shortOrders.map((order) => Date.parse(order.expiresAt))) + 500);
    restartedAt = Date.now();
    await startService();
  }, 90_000);

  it('was killed while the short orders were still within their validity', () => {
    for (const order of shortOrders) expect({ orderId: order.orderId, killedBeforeDeadline: killedAt < Date.parse(order.expiresAt) }).toEqual({ orderId: order.orderId, killedBeforeDeadline: true });
    const expiredBeforeKill = logBeforeKill.filter((event) => event.type === 'OrderExpired');
    expect(expiredBeforeKill).toEqual([]);
  });

  it('said in its start-up log that it runs open, without API keys', () => {
    expect(firstRun.output()).toMatch(/API_KEYS is not set/);
  });

  it('keeps every event recorded before the crash, at the same positions with the same ids', async () => {
    expect(logBeforeKill.length).toBeGreaterThan(20);
    const logAfterRestart = await readWholeLog(service);
    expect(logAfterRestart.slice(0, logBeforeKill.length)).toEqual(logBeforeKill);
    expect(logAfterRestart.map((event) => event.position)).toEqual(logAfterRestart.map((_, index) => index + 1));
  });

  it('expires the orders whose deadline passed while it was down, right after it starts', async () => {
    const orders = await eventually(
      () => Promise.all(shortOrders.map(({ orderId }) => service.request('GET', `/orders/${orderId}`))),
      (answers) => answers.every((answer) => answer.body.status === 'expired'),
      5_000,
      'the overdue orders expired after the restart',
    );
    for (const [index, { orderId, payments }] of shortOrders.entries()) {
      const expired = orders[index];
      // Its channel trades were closed first, so none of them can be paid any more.
      expect(expired.body.payments.map((payment: { paymentId: string; status: string }) => [payment.paymentId, payment.status])).toEqual(
        payments.map((paymentId) => [paymentId, 'closed']),
      );
      const stream = await service.request('GET', `/audit/streams/order-${orderId}`);
      const expiry = (stream.body.events as AuditEvent[]).filter((event) => event.type === 'OrderExpired');
      expect(expiry).toHaveLength(1);
      // Recorded by the restarted process, not before the crash.
      expect(Date.parse(expiry[0].metadata.occurredAt)).toBeGreaterThanOrEqual(restartedAt);
    }
  });

  it('leaves the other orders as they were before the crash', async () => {
    await settled(service);
    for (const [orderId, before] of viewsBeforeKill) {
      expect((await service.request('GET', `/orders/${orderId}`)).body).toEqual(before);
    }
    expect(viewsBeforeKill.get('long-pending')).toMatchObject({ status: 'pending' });
    expect(viewsBeforeKill.get('long-paid')).toMatchObject({ status: 'paid' });
  });

  it('does not refund a duplicate refunded before the crash again', async () => {
    await settled(service);
    const stream = await service.request('GET', `/audit/streams/order-dup-settled`);
    const [anomaly] = (stream.body.events as AuditEvent[]).filter((event) => event.type === 'AnomalyDetected');
    const payment = await service.request('GET', `/audit/streams/payment-${anomaly.data.paymentId}`);
    const refundEvents = (payment.body.events as AuditEvent[]).filter((event) => event.type.startsWith('Refund')).map((event) => event.type);
    expect(refundEvents).toEqual(['RefundRequested', 'RefundSucceeded']);
    const order = await service.request('GET', '/orders/dup-settled');
    expect(order.body.refunds).toEqual([expect.objectContaining({ paymentId: anomaly.data.paymentId, reason: 'duplicate-payment', status: 'succeeded' })]);
  });

  // Only a provider that outlives the service still has the trade to refund after the restart.
  if (ownProvider) {
    it.each([
      ['paid at the provider while the service was going down', 0],
      ['recorded by the service just before the crash', 1],
    ])('refunds a duplicate %s exactly once, keeping the first success', async (_, index) => {
      const { orderId, amount, bank, wallet } = lateDuplicates[index];
      const refunded = await orderOnceItIs(
        orderId,
        (body) => body.refunds.length === 1 && body.refunds[0].status === 'succeeded',
        `the duplicate of ${orderId} refunded`,
        30_000,
      );
      expect(refunded.body).toMatchObject({
        status: 'paid',
        paidBy: bank,
        anomalies: [{ kind: 'duplicate-payment', paymentId: wallet }],
        refunds: [{ paymentId: wallet, amount, currency: 'CNY', reason: 'duplicate-payment', status: 'succeeded' }],
      });
      await settled(service);
      const log = await readWholeLog(service);
      const refundEvents = log.filter((event) => event.data.orderId === orderId && event.type.startsWith('Refund'));
      expect(refundEvents.filter((event) => event.type === 'RefundRequested').map((event) => event.data.paymentId)).toEqual([wallet]);
      expect(refundEvents.filter((event) => event.type === 'RefundSucceeded').map((event) => event.data.paymentId)).toEqual([wallet]);
      // The provider paid back the second trade once, and the first not at all.
      expect((await gateway.request('GET', `/sandbox/api/wallet/trades/${wallet}`)).body).toMatchObject({ refundedAmount: amount });
      expect((await gateway.request('GET', `/sandbox/api/bank/trades/${bank}`)).body).toMatchObject({ refundedAmount: 0 });
    });
  }

  afterAll(async () => {
    // Stop this scenario's processes before their data directory goes.
    await Promise.all([...spawned].map(killHard));
    rmSync(dataDir, { recursive: true, force: true });
  });
});
