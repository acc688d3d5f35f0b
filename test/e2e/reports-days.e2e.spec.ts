/**
 * The reports' days are days in REPORT_TIMEZONE (default Asia/Shanghai, the providers' statement
 * day), and `from` / `to` take a day or an instant. The bucketing across UTC midnight with chosen
 * times is in the projection store contract (test/int/settlement-days.contract.ts); here the HTTP
 * forms, on payments made now.
 */
import { ConfigError, loadConfig } from '../../src/infrastructure/config/config.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

const HOUR = 3_600_000;
/** Beijing's day (UTC+8, no daylight saving since 1991) of an instant. */
const beijingDay = (ms: number): string => new Date(ms + 8 * HOUR).toISOString().slice(0, 10);
/** The first moment of a Beijing day, as UTC. */
const beijingMidnight = (day: string): string => new Date(Date.parse(`${day}T00:00:00.000Z`) - 8 * HOUR).toISOString();
const nextDay = (day: string): string => new Date(Date.parse(`${day}T00:00:00.000Z`) + 24 * HOUR).toISOString().slice(0, 10);

describe('report days in REPORT_TIMEZONE (default Asia/Shanghai) over HTTP', () => {
  let app: TestApp;
  /** The Beijing day of the payment made below, and its first moment as UTC. */
  let day: string;
  let start: string;
  let end: string;
  const settlement = (query: string) => app.request('GET', `/reports/settlement${query}`);

  beforeAll(async () => {
    app = await startTestApp();
    expect((await app.request('POST', '/orders', { orderId: 'days-1', amount: 1234, currency: 'CNY' })).status).toBe(201);
    const payment = await app.request('POST', '/orders/days-1/payments', { channel: 'sandbox-bank' });
    expect((await app.pay(payment.body.paymentId)).status).toBe(200);
    const paid = await eventually(() => app.request('GET', '/orders/days-1'), (answer) => answer.body.status === 'paid', 10_000, 'days-1 paid');
    await app.settle();
    day = beijingDay(Date.parse(paid.body.payments[0].paidAt));
    start = beijingMidnight(day);
    end = beijingMidnight(nextDay(day));
  }, 30_000);
  afterAll(() => app.close());

  it('answers by Beijing day, and says which zone and which instants the days cover', async () => {
    const answer = await settlement(`?from=${day}&to=${day}`);

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ timeZone: 'Asia/Shanghai', from: day, to: day, start, end });
    expect(answer.body.rows).toEqual([expect.objectContaining({ day, channel: 'sandbox-bank', currency: 'CNY', capturedAmount: '1234' })]);
  });

  it('takes instants: from the day the instant falls on, to the day before an exclusive end', async () => {
    const byInstants = await settlement(`?from=${start}&to=${end}`);
    const byDays = await settlement(`?from=${day}&to=${day}`);

    expect(byInstants.status).toBe(200);
    expect(byInstants.body).toMatchObject({ from: day, to: day, start, end });
    expect(byInstants.body.rows).toEqual(byDays.body.rows);
    expect((await settlement(`?from=${end}`)).body).toMatchObject({ from: nextDay(day), rows: [] });
    expect((await settlement(`?to=${start}`)).body.rows).toEqual([]);
  });

  it('takes the instants callers write: a UTC midnight, an offset (encoded or not), no milliseconds', async () => {
    const utcMidnight = await settlement('?from=2026-11-30T00:00:00Z');
    expect(utcMidnight.status).toBe(200);
    // 00:00 UTC is 08:00 in Beijing, on the same day.
    expect(utcMidnight.body).toMatchObject({ from: '2026-11-30', start: '2026-11-29T16:00:00.000Z' });

    const encoded = await settlement('?from=2026-12-01T00:00:00%2B08:00&to=2026-12-02T00:00:00%2B08:00');
    expect(encoded.body).toMatchObject({ from: '2026-12-01', to: '2026-12-01', start: '2026-11-30T16:00:00.000Z', end: '2026-12-01T16:00:00.000Z' });
    // An unencoded + arrives as a space; it is read as the + it was.
    expect((await settlement('?from=2026-12-01T00:00:00+08:00')).body).toMatchObject({ from: '2026-12-01' });
  });

  it('refuses bounds that are neither days nor instants with a zone, and an end before the start', async () => {
    const noZone = await settlement('?from=2026-11-30T00:00:00');
    expect(noZone.status).toBe(400);
    expect(noZone.body.errors).toEqual([expect.objectContaining({ field: 'from' })]);

    const notADay = await settlement('?to=2026-02-30');
    expect(notADay.status).toBe(400);
    expect(notADay.body.errors).toEqual([expect.objectContaining({ field: 'to' })]);

    const backwards = await settlement('?from=2026-12-02&to=2026-12-01T16:00:00Z');
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors).toEqual([expect.objectContaining({ field: 'to', message: expect.stringContaining('Asia/Shanghai') })]);
  });

  it('reads a day in the order list and the anomalies report as its first moment in Beijing', async () => {
    const sameDay = await app.request('GET', `/orders?from=${day}&to=${nextDay(day)}`);
    const byInstants = await app.request('GET', `/orders?from=${start}&to=${end}`);
    const dayBefore = await app.request('GET', `/orders?to=${day}`);

    expect(sameDay.body.orders.map((order: { orderId: string }) => order.orderId)).toEqual(['days-1']);
    expect(byInstants.body.orders).toEqual(sameDay.body.orders);
    expect(dayBefore.body.orders).toEqual([]);
    expect((await app.request('GET', `/reports/anomalies?from=${day}`)).status).toBe(200);
  });
});

describe('REPORT_TIMEZONE set to another zone', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ REPORT_TIMEZONE: 'utc' });
  });
  afterAll(() => app.close());

  it('cuts the days at that zone\'s midnight, and names the zone as the runtime spells it', async () => {
    const answer = await app.request('GET', '/reports/settlement?from=2026-11-30&to=2026-11-30');

    expect(answer.body).toMatchObject({ timeZone: 'UTC', start: '2026-11-30T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' });
  });
});

describe('REPORT_TIMEZONE that is not a time zone', () => {
  it('stops the start with a configuration error naming the setting', () => {
    expect(() => loadConfig({ REPORT_TIMEZONE: 'Beijing' })).toThrow(ConfigError);
    expect(() => loadConfig({ REPORT_TIMEZONE: 'Beijing' })).toThrow(/REPORT_TIMEZONE must be an IANA time zone.*not Beijing/);
    expect(loadConfig({}).reportTimeZone).toBe('Asia/Shanghai');
  });
});
