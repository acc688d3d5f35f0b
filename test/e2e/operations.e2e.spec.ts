import { expectProblem, expectValidationProblem, ISO_UTC, readWholeLog, type AuditEvent } from '../support/contract.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

const EVENT_TYPES = [
  'OrderPlaced',
  'OrderPaid',
  'OrderExpired',
  'OrderClosed',
  'PaymentInitiated',
  'PaymentSucceeded',
  'PaymentFailed',
  'PaymentClosed',
  'RefundRequested',
  'RefundSucceeded',
  'RefundFailed',
];
const MONEY_EVENTS = ['PaymentInitiated', 'PaymentSucceeded', 'RefundRequested', 'RefundSucceeded'];

describe('operations and audit', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  const order = (orderId: string, amount: number, currency: string, expiresInSeconds = 1800) =>
    app.request('POST', '/orders', { orderId, amount, currency, expiresInSeconds });
  const startPayment = async (orderId: string, channel: string): Promise<string> => {
    const answer = await app.request('POST', `/orders/${orderId}/payments`, { channel });
    if (answer.status !== 201) throw new Error(`payment on ${orderId} not started: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.paymentId;
  };
  const orderOnceItIs = (orderId: string, accept: (body: any) => boolean, what: string) =>
    eventually(() => app.request('GET', `/orders/${orderId}`), (answer) => accept(answer.body), 15_000, what);

  describe('health, metrics and docs', () => {
    it('says it is alive', async () => {
      const live = await app.request('GET', '/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toMatchObject({ status: 'ok' });
    });

    it("says it is ready, with the store reachable and each follower's lag in events", async () => {
      await order('ready-1', 100, 'CNY');
      await app.settle();
      const ready = await app.request('GET', '/health/ready');

      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ok', store: 'ok' });
      const lag = Object.entries(ready.body.lag as Record<string, unknown>);
      expect(lag.length).toBeGreaterThan(0);
      // Every follower has caught up with the log.
      for (const [follower, events] of lag) expect({ follower, events }).toEqual({ follower, events: 0 });
    });

    it('exposes Prometheus text with request counts and follower lag', async () => {
      expect((await order('metrics-1', 100, 'CNY')).status).toBe(201);
      const metrics = await app.request('GET', '/metrics', undefined, { accept: 'text/plain' });

      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain\b/);
      const text = metrics.body as string;
      expect(text).toMatch(/^# TYPE payguard_http_requests_total counter$/m);
      expect(text).toMatch(/^payguard_http_requests_total\{(?=[^}]*method="POST")(?=[^}]*status="201")[^}]*\} [1-9]\d*$/m);
      expect(text).toMatch(/^# TYPE payguard_log_follower_lag_events gauge$/m);
      expect(text).toMatch(/^payguard_log_follower_lag_events\{[^}]*follower="[^"]+"[^}]*\} \d+$/m);
    });

    it('serves the OpenAPI UI and the OpenAPI document', async () => {
      const docs = await app.request('GET', '/docs', undefined, { accept: 'text/html' });
      expect(docs.status).toBe(200);
      expect(docs.headers.get('content-type')).toMatch(/^text\/html\b/);
      expect(docs.body).toMatch(/swagger-ui/i);

      const openapi = await app.request('GET', '/openapi.json');
      expect(openapi.status).toBe(200);
      expect(openapi.body.openapi).toMatch(/^3\./);
      expect(openapi.body.paths['/orders']).toHaveProperty('post');
      expect(openapi.body.paths['/orders/{orderId}/payments']).toHaveProperty('post');
      expect(openapi.body.paths['/payments/{paymentId}']).toHaveProperty('get');
    });
  });

  describe('the audit log', () => {
    let log: AuditEvent[];
    const correlationId = 'ops-correlation-4711';
    let placedWithCorrelation: { sentAt: number; answeredAt: number };

    /** A business day in miniature: every kind of event the contract names, each waited for. */
    beforeAll(async () => {
      // A duplicate paid on two channels, its refund failing once before it succeeds.
      await order('audit-dup', 1999, 'CNY');
      const bank = await startPayment('audit-dup', 'sandbox-bank');
      const wallet = await startPayment('audit-dup', 'sandbox-wallet');
      await app.faults({ apiDown: true });
      try {
        expect((await app.pay(bank)).status).toBe(200);
        expect((await app.pay(wallet)).status).toBe(200);
        // A transient failure leaves the refund requested, with its error and the time of the next attempt.
        await orderOnceItIs('audit-dup', (body) => body.refunds[0]?.attempts >= 1 && body.refunds[0]?.status === 'requested', 'refund failing while the channel is down');
      } finally {
        await app.faults({});
      }
      await orderOnceItIs('audit-dup', (body) => body.refunds[0]?.status === 'succeeded', 'refund retried and succeeded');

      // A declined payment.
      await order('audit-declined', 500, 'USD');
      const declined = await startPayment('audit-declined', 'sandbox-bank');
      expect((await app.request('POST', `/sandbox/pay/${declined}`, { outcome: 'fail' })).status).toBe(200);
      await orderOnceItIs('audit-declined', (body) => body.payments[0]?.status === 'failed', 'payment declined');

      // A closed order with an open trade, and an order that expires with one.
      await order('audit-closed', 700, 'EUR');
      await startPayment('audit-closed', 'sandbox-wallet');
      expect((await app.request('POST', '/orders/audit-closed/close', { reason: 'out of stock' })).body.status).toBe('closed');
      await order('audit-expired', 800, 'EUR', 2);
      await startPayment('audit-expired', 'sandbox-bank');
      await orderOnceItIs('audit-expired', (body) => body.status === 'expired', 'order expired');

      // A command sent with the caller's correlation id.
      const sentAt = Date.now();
      const placed = await app.request('POST', '/orders', { orderId: 'audit-correlated', amount: 900, currency: 'GBP' }, { 'X-Correlation-Id': correlationId });
      placedWithCorrelation = { sentAt, answeredAt: Date.now() };
      expect(placed.status).toBe(201);
      const payment = await app.request('POST', '/orders/audit-correlated/payments', { channel: 'sandbox-bank' }, { 'X-Correlation-Id': correlationId });
      expect(payment.status).toBe(201);
      await app.request('POST', '/orders/audit-correlated/close', {}, { 'X-Correlation-Id': correlationId });

      await app.settle();
      log = await readWholeLog(app);
    }, 30_000);

    it('holds every kind of event the contract names', () => {
      expect([...new Set(log.map((event) => event.type))]).toEqual(expect.arrayContaining(EVENT_TYPES));
    });

    it('gives every event its position, stream, revision, id, type, data and metadata', () => {
      for (const event of log) {
        expect(event).toMatchObject({
          position: expect.any(Number),
          streamName: expect.stringMatching(/^(order|payment)-[A-Za-z0-9_-]{1,64}$/),
          revision: expect.any(Number),
          eventId: expect.stringMatching(/\S/),
          type: expect.stringMatching(/^[A-Z][A-Za-z]+$/),
          data: expect.any(Object),
          metadata: {
            occurredAt: expect.stringMatching(ISO_UTC),
            correlationId: expect.stringMatching(/\S/),
            schemaVersion: expect.any(Number),
          },
        });
        expect(event.metadata).toHaveProperty('causationId');
        expect(event.metadata.causationId === null || typeof event.metadata.causationId === 'string').toBe(true);
      }
      expect(new Set(log.map((event) => event.eventId)).size).toBe(log.length);
    });

    it('numbers the log without gaps and each stream from revision 0, in commit order', () => {
      expect(log.map((event) => event.position)).toEqual(log.map((_, index) => index + 1));
      const revisions = new Map<string, number[]>();
      for (const event of log) revisions.set(event.streamName, [...(revisions.get(event.streamName) ?? []), event.revision]);
      for (const [streamName, seen] of revisions) expect({ streamName, seen }).toEqual({ streamName, seen: seen.map((_, index) => index) });
    });

    it('names in every event the order it concerns, and the payment on payment events', () => {
      for (const event of log) {
        expect({ type: event.type, orderId: event.data.orderId }).toEqual({ type: event.type, orderId: expect.stringMatching(/\S/) });
        if (event.streamName.startsWith('order-')) expect(event.streamName).toBe(`order-${event.data.orderId}`);
        if (event.streamName.startsWith('payment-')) expect(event.streamName).toBe(`payment-${event.data.paymentId}`);
        if (/^(Payment|Refund)/.test(event.type)) {
          expect({ type: event.type, paymentId: event.data.paymentId }).toEqual({ type: event.type, paymentId: expect.stringMatching(/^[A-Za-z0-9_-]{6,32}$/) });
        }
      }
    });

    it("carries the order's amount and currency on payment and refund money events, and the reason on a refund request", () => {
      const orders = new Map(log.filter((event) => event.type === 'OrderPlaced').map((event) => [event.data.orderId, event.data]));
      const moneyEvents = log.filter((event) => MONEY_EVENTS.includes(event.type));
      expect(new Set(moneyEvents.map((event) => event.type))).toEqual(new Set(MONEY_EVENTS));
      for (const event of moneyEvents) {
        const placed = orders.get(event.data.orderId);
        expect({ type: event.type, amount: event.data.amount, currency: event.data.currency }).toEqual({
          type: event.type,
          amount: placed?.amount,
          currency: placed?.currency,
        });
      }
      const requested = log.filter((event) => event.type === 'RefundRequested');
      expect(requested.map((event) => event.data.reason)).toEqual(['duplicate-payment']);
    });

    it('records each refund once, failed attempts included', () => {
      const refundEvents = log.filter((event) => event.type.startsWith('Refund')).map((event) => event.type);
      expect(refundEvents[0]).toBe('RefundRequested');
      expect(refundEvents.filter((type) => type === 'RefundRequested')).toHaveLength(1);
      expect(refundEvents.filter((type) => type === 'RefundSucceeded')).toHaveLength(1);
      expect(refundEvents.at(-1)).toBe('RefundSucceeded');
    });

    it('names as cause only an event recorded before it', () => {
      const positions = new Map(log.map((event) => [event.eventId, event.position]));
      const caused = log.filter((event) => event.metadata.causationId !== null);
      expect(caused.length).toBeGreaterThan(0);
      for (const event of caused) {
        const cause = positions.get(event.metadata.causationId!);
        expect({ event: event.type, causeBefore: cause !== undefined && cause < event.position }).toEqual({ event: event.type, causeBefore: true });
      }
    });

    it("carries the caller's X-Correlation-Id into the metadata of its commands' events, recorded while the command ran", () => {
      const correlated = log.filter((event) => event.data.orderId === 'audit-correlated');
      expect(correlated.map((event) => event.type)).toEqual(
        expect.arrayContaining(['OrderPlaced', 'PaymentAttemptStarted', 'PaymentInitiated', 'PaymentClosed', 'OrderClosed']),
      );
      for (const event of correlated) expect({ type: event.type, correlationId: event.metadata.correlationId }).toEqual({ type: event.type, correlationId });
      const placed = correlated.find((event) => event.type === 'OrderPlaced')!;
      expect(Date.parse(placed.metadata.occurredAt)).toBeGreaterThanOrEqual(placedWithCorrelation.sentAt);
      expect(Date.parse(placed.metadata.occurredAt)).toBeLessThanOrEqual(placedWithCorrelation.answeredAt);
      // Events of other requests carry their own correlation ids.
      expect(log.filter((event) => event.metadata.correlationId === correlationId).every((event) => event.data.orderId === 'audit-correlated')).toBe(true);
    });

    it('pages through the log with after, limit and next', async () => {
      const pages: AuditEvent[][] = [];
      let after = 0;
      for (;;) {
        const page = await app.request('GET', `/audit/events?after=${after}&limit=4`);
        expect(page.status).toBe(200);
        if (page.body.events.length === 0) {
          expect(page.body.next).toBe(after);
          break;
        }
        expect(page.body.events.length).toBeLessThanOrEqual(4);
        expect(page.body.next).toBe(page.body.events.at(-1).position);
        pages.push(page.body.events);
        after = page.body.next;
      }
      expect(pages.flat().slice(0, log.length)).toEqual(log);
      expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true);

      const fromMiddle = await app.request('GET', `/audit/events?after=${log[9].position}&limit=3`);
      expect(fromMiddle.body.events).toEqual(log.slice(10, 13));
      expect((await app.request('GET', '/audit/events?limit=1000')).body.events.slice(0, log.length)).toEqual(log);
    });

    it.each([
      ['a limit over 1000', 'limit=1001', 'limit'],
      ['a limit of 0', 'limit=0', 'limit'],
      ['a limit that is no number', 'limit=ten', 'limit'],
      ['a negative after', 'after=-1', 'after'],
      ['an after that is no number', 'after=first', 'after'],
    ])('rejects %s as 400 validation', async (_, query, field) => {
      expectValidationProblem(await app.request('GET', `/audit/events?${query}`), field);
    });

    it("reads one order's stream: its events by revision, as in the global log", async () => {
      for (const orderId of ['audit-dup', 'audit-expired']) {
        const stream = await app.request('GET', `/audit/streams/order-${orderId}`);
        expect(stream.status).toBe(200);
        expect(stream.body.events).toEqual(log.filter((event) => event.streamName === `order-${orderId}`));
        expect(stream.body.events[0].type).toBe('OrderPlaced');
      }
      const paymentStreamName = log.find((event) => event.type === 'RefundSucceeded')!.streamName;
      const payment = await app.request('GET', `/audit/streams/${paymentStreamName}`);
      expect(payment.body.events).toEqual(log.filter((event) => event.streamName === paymentStreamName));
    });

    it('refuses a stream name that is not order-{id} or payment-{id}', async () => {
      expectProblem(await app.request('GET', '/audit/streams/refund-x'), 400, 'validation');
    });
  });
});
