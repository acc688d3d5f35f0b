import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';
const merchantA = { authorization: 'Bearer keyA' };
const merchantB = { authorization: 'Bearer keyB' };
const auditor = { authorization: 'Bearer keyC' };

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
    app = await startTestApp({ API_KEYS: 'keyA:merchantA,keyB:merchantB,keyC:*:auditor' });
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
    await app.faults({ apiDown: true });
    expect((await a().post('/orders/rep-late/close', {})).status).toBe(200);
    await app.faults({ ignoreTimeExpire: true });
    expect((await app.pay(late)).status).toBe(200);
    await app.faults({});
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
    /** Per currency, straight from the raw log: what was captured and refunded. */
    async function totalsFromTheLog() {
      const totals: Record<string, { capturedAmount: number; capturedCount: number; refundedAmount: number; refundedCount: number; netAmount: number }> = {};
      for (const { type, data } of await rawLog()) {
        if (type !== 'PaymentSucceeded' && type !== 'RefundSucceeded') continue;
        const total = (totals[data.currency] ??= { capturedAmount: 0, capturedCount: 0, refundedAmount: 0, refundedCount: 0, netAmount: 0 });
        if (type === 'PaymentSucceeded') {
          total.capturedAmount += data.amount;
          total.capturedCount++;
          total.netAmount += data.amount;
        } else {
          total.refundedAmount += data.amount;
          total.refundedCount++;
          total.netAmount -= data.amount;
        }
      }
      return totals;
    }

    it('agrees with the totals computed from the raw log', async () => {
      const answer = await audit().get('/reports/settlement');

      expect(answer.status).toBe(200);
      expect(Object.fromEntries(answer.body.totals.map(({ currency, ...total }: { currency: string }) => [currency, total]))).toEqual(await totalsFromTheLog());
      expect(answer.body.totals).toEqual([
        { currency: 'CNY', capturedAmount: 1999 + 1999 + 800, capturedCount: 3, refundedAmount: 1999, refundedCount: 1, netAmount: 1999 + 800 },
        { currency: 'USD', capturedAmount: 500, capturedCount: 1, refundedAmount: 500, refundedCount: 1, netAmount: 0 },
      ]);
      // Row by row too: captures on the day the channel took the money, refunds on the capturing channel.
      const log = await rawLog();
      const channelOf = (paymentId: string) => log.find((event) => event.type === 'PaymentInitiated' && event.data.paymentId === paymentId)!.data.channel;
      const rows: Record<string, { capturedAmount: number; refundedAmount: number }> = {};
      for (const { type, data } of log) {
        if (type === 'PaymentSucceeded') (rows[`${data.paidAt.slice(0, 10)}|${data.channel}|${data.currency}`] ??= { capturedAmount: 0, refundedAmount: 0 }).capturedAmount += data.amount;
        if (type === 'RefundSucceeded') (rows[`${data.completedAt.slice(0, 10)}|${channelOf(data.paymentId)}|${data.currency}`] ??= { capturedAmount: 0, refundedAmount: 0 }).refundedAmount += data.amount;
      }
      expect(
        Object.fromEntries(answer.body.rows.map((row: any) => [`${row.day}|${row.channel}|${row.currency}`, { capturedAmount: row.capturedAmount, refundedAmount: row.refundedAmount }])),
      ).toEqual(rows);
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
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

      expect((await audit().get(`/reports/settlement?from=${tomorrow}`)).body).toMatchObject({ rows: [], totals: [] });
      const bad = await audit().get('/reports/settlement?from=2026-13-01&to=2026-11-01T00:00:00Z');
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
