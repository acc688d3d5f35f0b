import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';
const merchantA = { authorization: 'Bearer keyA' };
const merchantB = { authorization: 'Bearer keyB' };
const auditor = { authorization: 'Bearer keyC' };
/** With API keys, only an operator may set the sandbox's faults. */
const operator = { authorization: 'Bearer keyD' };

type LogEvent = { type: string; data: Record<string, any> };

/** Per currency, straight from the raw log: what was captured and refunded, summed exactly (as digits). */
function totalsFromTheLog(log: readonly LogEvent[]) {
  const totals: Record<string, { capturedAmount: bigint; capturedCount: number; refundedAmount: bigint; refundedCount: number }> = {};
  for (const { type, data } of log) {
    if (type !== 'PaymentSucceeded' && type !== 'RefundSucceeded') continue;
    const total = (totals[data.currency] ??= { capturedAmount: 0n, capturedCount: 0, refundedAmount: 0n, refundedCount: 0 });
    if (type === 'PaymentSucceeded') {
      total.capturedAmount += BigInt(data.amount);
      total.capturedCount++;
    } else {
      total.refundedAmount += BigInt(data.amount);
      total.refundedCount++;
    }
  }
  return Object.fromEntries(
    Object.entries(totals).map(([currency, t]) => [
      currency,
      { ...t, capturedAmount: String(t.capturedAmount), refundedAmount: String(t.refundedAmount), netAmount: String(t.capturedAmount - t.refundedAmount) },
    ]),
  );
}

/** Beijing's day (UTC+8, no daylight saving) of a UTC time: the day of the reports by default (REPORT_TIMEZONE=Asia/Shanghai). */
const beijingDay = (time: string | number): string => new Date(new Date(time).getTime() + 8 * 3_600_000).toISOString().slice(0, 10);

/** Per Beijing day, channel and currency, from the raw log: captures on the day the channel took the money, refunds on the capturing channel. */
function rowsFromTheLog(log: readonly LogEvent[]) {
  const channelOf = (paymentId: string) => log.find((event) => event.type === 'PaymentInitiated' && event.data.paymentId === paymentId)!.data.channel;
  const rows: Record<string, { capturedAmount: bigint; refundedAmount: bigint }> = {};
  for (const { type, data } of log) {
    if (type === 'PaymentSucceeded') (rows[`${beijingDay(data.paidAt)}|${data.channel}|${data.currency}`] ??= { capturedAmount: 0n, refundedAmount: 0n }).capturedAmount += BigInt(data.amount);
    if (type === 'RefundSucceeded') (rows[`${beijingDay(data.completedAt)}|${channelOf(data.paymentId)}|${data.currency}`] ??= { capturedAmount: 0n, refundedAmount: 0n }).refundedAmount += BigInt(data.amount);
  }
  return Object.fromEntries(Object.entries(rows).map(([key, row]) => [key, { capturedAmount: String(row.capturedAmount), refundedAmount: String(row.refundedAmount) }]));
}

const rowsOf = (report: { rows: Record<string, any>[] }) =>
  Object.fromEntries(report.rows.map((row) => [`${row.day}|${row.channel}|${row.currency}`, { capturedAmount: row.capturedAmount, refundedAmount: row.refundedAmount }]));

describe('reports and the back-office order list', () => {
  let app: TestApp;
  const as = (who: Record<string, string>) => ({
    get: <T = any>(path: string, headers: Record<string, string> = {}): Promise<Answer<T>> => app.request('GET', path, undefined, { ...who, ...headers }),
    post: <T = any>(path: string, body: unknown): Promise<Answer<T>> => app.request('POST', path, body, who),
  });
  const a = () => as(merchantA);
  const b = () => as(merchantB);
  const audit = () => as(auditor);

  async function place(who: ReturnType<typeof as>, orderId: string, amount: number, currency: string): Promise<void> {
    expect((await who.post('/orders', { orderId, amount, currency })).status).toBe(201);
  }
  async function startPayment(who: ReturnType<typeof as>, orderId: string, channel: string): Promise<string> {
    const payment = await who.post(`/orders/${orderId}/payments`, { channel });
    expect(payment.status).toBe(201);
    return payment.body.paymentId;
  }
  async function refunded(who: ReturnType<typeof as>, orderId: string): Promise<void> {
    await eventually(
      () => who.get(`/orders/${orderId}`),
      (answer) => answer.body.refunds?.length === 1 && answer.body.refunds[0].status === 'succeeded',
      10_000,
      `refund on ${orderId}`,
    );
  }

  beforeAll(async () => {
    // With API keys the sandbox is off unless asked for, and then needs a secret of its own.
    app = await startTestApp({ API_KEYS: 'keyA:merchantA,keyB:merchantB,keyC:*:auditor,keyD:*:operator', SANDBOX_ENABLED: 'true', SANDBOX_SECRET: 'reports-e2e-secret' });
    const faults = async (set: Record<string, unknown>) => expect((await app.request('PUT', '/sandbox/faults', set, operator)).status).toBe(200);
    // merchantA: a duplicate payment (refunded), a closed order paid afterwards (refunded), a pending order.
    await place(a(), 'rep-dup', 1999, 'CNY');
    const bank = await startPayment(a(), 'rep-dup', 'sandbox-bank');
    const wallet = await startPayment(a(), 'rep-dup', 'sandbox-wallet');
    expect((await app.pay(bank)).status).toBe(200);
    await eventually(() => a().get('/orders/rep-dup'), (answer) => answer.body.status === 'paid', 10_000, 'rep-dup paid');
    expect((await app.pay(wallet)).status).toBe(200);
    await refunded(a(), 'rep-dup');

    await place(a(), 'rep-late', 500, 'USD');
    const late = await startPayment(a(), 'rep-late', 'sandbox-wallet');
    await faults({ apiDown: true });
    expect((await a().post('/orders/rep-late/close', {})).status).toBe(200);
    await faults({ ignoreTimeExpire: true });
    expect((await app.pay(late)).status).toBe(200);
    await faults({});
    await refunded(a(), 'rep-late');

    await place(a(), 'rep-pending', 300, 'CNY');
    // merchantB: one order paid.
    await place(b(), 'rep-b', 800, 'CNY');
    expect((await app.pay(await startPayment(b(), 'rep-b', 'sandbox-bank'))).status).toBe(200);
    await eventually(() => b().get('/orders/rep-b'), (answer) => answer.body.status === 'paid', 10_000, 'rep-b paid');
    await app.settle();
  }, 60_000);
  afterAll(() => app.close());

  /** Every event of the log, read as an auditor reads it. */
  async function rawLog(): Promise<{ type: string; data: Record<string, any> }[]> {
    return (await audit().get('/audit/events?limit=1000')).body.events;
  }

  describe('GET /orders', () => {
    it("gives a merchant its own orders only, newest first, a page at a time with a cursor", async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Answer = await a().get(`/orders?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(page.status).toBe(200);
        expect(page.body.orders.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.orders.map((order: { orderId: string }) => order.orderId));
        cursor = page.body.next;
      } while (cursor !== null);

      expect(seen).toEqual(['rep-pending', 'rep-late', 'rep-dup']);
    });

    it('filters by status and time, and carries what the back office needs on each order', async () => {
      const paid = await a().get('/orders?status=paid');
      const dup = await a().get('/orders/rep-dup');

      expect(paid.body.orders).toEqual([
        {
          orderId: 'rep-dup',
          orderKey: 'merchantA.rep-dup',
          merchantId: 'merchantA',
          status: 'paid',
          amount: 1999,
          currency: 'CNY',
          createdAt: dup.body.createdAt,
          expiresAt: dup.body.expiresAt,
          endedAt: expect.any(String),
          paidBy: dup.body.paidBy,
          payments: 2,
          anomalies: 1,
          refundedAmount: 1999,
        },
      ]);
      expect(paid.body.position).toBeGreaterThan(0);
      const after = (await a().get(`/orders?from=${encodeURIComponent(dup.body.createdAt)}&to=2999-01-01`)).body.orders;
      expect(after.map((order: { orderId: string }) => order.orderId)).toEqual(['rep-pending', 'rep-late', 'rep-dup']);
      const before = (await a().get(`/orders?to=${encodeURIComponent(dup.body.createdAt)}`)).body.orders;
      expect(before).toEqual([]);
    });

    it("lets an auditor list every merchant's orders, or one merchant's; a merchant can't ask for another's", async () => {
      const all = await audit().get('/orders');
      const onlyB = await audit().get('/orders?merchant=merchantB');
      const snooping = await a().get('/orders?merchant=merchantB');

      expect(all.body.orders.map((order: { orderId: string }) => order.orderId).sort()).toEqual(['rep-b', 'rep-dup', 'rep-late', 'rep-pending']);
      expect(onlyB.body.orders.map((order: { orderId: string }) => order.orderId)).toEqual(['rep-b']);
      expect(snooping.status).toBe(403);
      expect(snooping.body.type).toBe(`${PROBLEMS}forbidden`);
    });

    it('refuses unknown parameters, bad values and cursors it did not give out, naming each', async () => {
      const answer = await a().get('/orders?state=paid&status=unpaid&from=yesterday&limit=5000');
      const cursor = await a().get('/orders?cursor=not-a-cursor');

      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['from', 'limit', 'state', 'status']);
      expect(cursor.status).toBe(400);
      expect(cursor.body.errors).toEqual([{ field: 'cursor', message: expect.any(String) }]);
    });
  });

  describe('GET /reports/anomalies', () => {
    it('lists each anomaly with its kind, detection time, time to refund request and refund status', async () => {
      const answer = await audit().get('/reports/anomalies');
      const log = await rawLog();

      expect(answer.status).toBe(200);
      const detected = log.filter((event) => event.type === 'AnomalyDetected').map((event) => event.data);
      expect(answer.body.anomalies).toHaveLength(detected.length);
      for (const anomaly of answer.body.anomalies) {
        const fact = detected.find((data) => data.paymentId === anomaly.paymentId)!;
        const request = log.find((event) => event.type === 'RefundRequested' && event.data.paymentId === anomaly.paymentId)!.data;
        expect(anomaly).toMatchObject({
          orderId: fact.orderId,
          kind: fact.kind,
          detectedAt: fact.detectedAt,
          refundStatus: 'succeeded',
          refundRequestedAt: request.requestedAt,
          timeToRefundRequestMs: Date.parse(request.requestedAt) - Date.parse(fact.detectedAt),
          amount: request.amount,
          currency: request.currency,
        });
      }
      expect(answer.body.anomalies.map((anomaly: { kind: string }) => anomaly.kind).sort()).toEqual(['duplicate-payment', 'paid-after-close']);
      expect((await audit().get('/reports/anomalies?kind=paid-after-close')).body.anomalies).toHaveLength(1);
    });

    it('is for auditor keys: it spans every merchant', async () => {
      const answer = await a().get('/reports/anomalies');

      expect(answer.status).toBe(403);
      expect(answer.body.type).toBe(`${PROBLEMS}forbidden`);
    });
  });

  describe('GET /reports/settlement', () => {
    it('agrees with the totals computed from the raw log, every amount a string of digits', async () => {
      const answer = await audit().get('/reports/settlement');

      expect(answer.status).toBe(200);
      expect(Object.fromEntries(answer.body.totals.map(({ currency, ...total }: { currency: string }) => [currency, total]))).toEqual(totalsFromTheLog(await rawLog()));
      expect(answer.body.totals).toEqual([
        { currency: 'CNY', capturedAmount: String(1999 + 1999 + 800), capturedCount: 3, refundedAmount: '1999', refundedCount: 1, netAmount: String(1999 + 800) },
        { currency: 'USD', capturedAmount: '500', capturedCount: 1, refundedAmount: '500', refundedCount: 1, netAmount: '0' },
      ]);
      // Row by row too: captures on the day the channel took the money, refunds on the capturing channel.
      expect(rowsOf(answer.body)).toEqual(rowsFromTheLog(await rawLog()));
    });

    it('gives the same rows as CSV to a caller that asks for text/csv', async () => {
      const json = await audit().get('/reports/settlement');
      const csv = await audit().get('/reports/settlement', { accept: 'text/csv' });

      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      const [header, ...lines] = (csv.body as string).trimEnd().split('\r\n');
      expect(header).toBe('day,channel,currency,capturedAmount,capturedCount,refundedAmount,refundedCount,netAmount');
      expect(lines).toEqual(json.body.rows.map((row: Record<string, unknown>) => Object.values(row).join(',')));
    });

    it('keeps to the days asked for, and refuses days that are not days', async () => {
      const tomorrow = beijingDay(Date.now() + 86_400_000);

      expect((await audit().get(`/reports/settlement?from=${tomorrow}`)).body).toMatchObject({ rows: [], totals: [] });
      const bad = await audit().get('/reports/settlement?from=2026-13-01&to=2026-11-01T25:00:00Z');
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((error: { field: string }) => error.field)).toEqual(['from', 'to']);
    });
  });

  it("reports each projection's lag in /health/ready and /metrics", async () => {
    await app.settle();
    const ready = await app.request('GET', '/health/ready');
    const metrics = await app.request('GET', '/metrics', undefined, { ...auditor, accept: 'text/plain' });

    expect(ready.body.lag).toMatchObject({ 'projection:orders': 0, 'projection:anomalies': 0, 'projection:settlement': 0 });
    expect(metrics.body).toMatch(/^payguard_log_follower_lag_events\{follower="projection:settlement"\} 0$/m);
  });
});

describe('settlement money past 2^53 (Number.MAX_SAFE_INTEGER)', () => {
  const MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991: the largest amount an order may have
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
    // Three captures of the largest amount, one refunded (a duplicate payment): sums that JS numbers round.
    const place = async (orderId: string) => expect((await app.request('POST', '/orders', { orderId, amount: MAX, currency: 'EUR' })).status).toBe(201);
    const start = async (orderId: string, channel: string) => (await app.request('POST', `/orders/${orderId}/payments`, { channel })).body.paymentId as string;
    await place('big-dup');
    const bank = await start('big-dup', 'sandbox-bank');
    const wallet = await start('big-dup', 'sandbox-wallet');
    expect((await app.pay(bank)).status).toBe(200);
    await eventually(() => app.request('GET', '/orders/big-dup'), (answer) => answer.body.status === 'paid', 10_000, 'big-dup paid');
    expect((await app.pay(wallet)).status).toBe(200);
    await eventually(() => app.request('GET', '/orders/big-dup'), (answer) => answer.body.refunds?.[0]?.status === 'succeeded', 10_000, 'big-dup refunded');
    await place('big-2');
    expect((await app.pay(await start('big-2', 'sandbox-bank'))).status).toBe(200);
    await eventually(() => app.request('GET', '/orders/big-2'), (answer) => answer.body.status === 'paid', 10_000, 'big-2 paid');
    await app.settle();
  }, 60_000);
  afterAll(() => app.close());

  it('totals them exactly, each amount a JSON string of digits', async () => {
    const answer = await app.request('GET', '/reports/settlement');
    const log = (await app.request('GET', '/audit/events?limit=1000')).body.events as LogEvent[];

    expect(answer.status).toBe(200);
    expect(answer.body.totals).toEqual([
      { currency: 'EUR', capturedAmount: '27021597764222973', capturedCount: 3, refundedAmount: '9007199254740991', refundedCount: 1, netAmount: '18014398509481982' },
    ]);
    // What JSON numbers would have said instead: 27021597764222972 and 18014398509481984.
    expect([String(3 * MAX), String(3 * MAX - MAX)]).not.toEqual(['27021597764222973', '18014398509481982']);
    expect(rowsOf(answer.body)).toEqual(rowsFromTheLog(log));
    expect(Object.fromEntries(answer.body.totals.map(({ currency, ...total }: { currency: string }) => [currency, total]))).toEqual(totalsFromTheLog(log));
    for (const row of answer.body.rows) {
      for (const field of ['capturedAmount', 'refundedAmount', 'netAmount']) expect(row[field]).toMatch(/^-?\d+$/);
    }
  });

  it('gives them as plain digits in CSV', async () => {
    const json = await app.request('GET', '/reports/settlement');
    const csv = await app.request('GET', '/reports/settlement', undefined, { accept: 'text/csv' });

    const [, ...lines] = (csv.body as string).trimEnd().split('\r\n');
    expect(lines).toEqual(json.body.rows.map((row: Record<string, unknown>) => Object.values(row).join(',')));
    const bank = lines.find((line) => line.includes(',sandbox-bank,'))!.split(',');
    expect(bank.slice(2)).toEqual(['EUR', '18014398509481982', '2', '0', '0', '18014398509481982']);
  });
});
