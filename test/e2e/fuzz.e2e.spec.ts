/**
 * Generated requests against the real app over a socket, every route the app serves: odd and
 * encoded ids in paths, query strings, headers and bodies (arbitrary JSON, nesting thousands deep,
 * huge numbers, wrong types, prototype keys, text that is no JSON at all). Whatever comes in:
 * - no 5xx;
 * - every 4xx is application/problem+json, except where the answer's format is someone else's
 *   (the sandbox provider, alipay and wechatpay callbacks, the pages a payer's browser lands on);
 * - a refused request appends nothing to the event log (the log's head, read through
 *   GET /audit/events, is the same before and after, but for events the background work appended
 *   under a correlation id of its own).
 *
 * Seeded and bounded: FUZZ_SEED and FUZZ_RUNS override the defaults; a failure prints the seed
 * and the shrunk request (run again with that FUZZ_SEED to replay it).
 */
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { AlipayStandIn } from '../support/alipay-stand-in.js';
import type { AuditEvent } from '../support/contract.js';
import { startTestApp, type Answer, type TestApp } from '../support/harness.js';
import { WechatpayStandIn } from '../support/wechatpay-stand-in.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3_000);
const TIME_LIMIT_MS = 45_000;

interface Route {
  readonly method: string;
  readonly path: string;
}

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/**
 * Answers whose format belongs to someone else, with why: judged on the path as the server sees
 * it (dot segments resolved, and the router matches case-insensitively, with or without a final slash).
 */
function ownFormat(request: FuzzRequest): string | null {
  const path = new URL(request.path, 'http://x').pathname;
  if (/^\/sandbox(\/|$)/i.test(path)) return "the sandbox provider's (its pay page is HTML)";
  if (/^\/channels\/(alipay|wechatpay)(\/|$)/i.test(path)) return "the provider's callback format (text or its own JSON)";
  // Pages a payer's browser lands on: their refusals are pages too.
  if (request.method === 'GET' && /^\/checkout\/[^/]+\/?$/i.test(path)) return "the payer's checkout page (HTML)";
  if (request.method === 'GET' && /^\/channels\/[^/]+\/return\/?$/i.test(path)) return "the payer's return page (HTML)";
  return null;
}

// ---- generators -------------------------------------------------------------------------------

const ODD = ['', ' ', '%', '%zz', '%00', '%E0%A4%A', '..', '.', '/', '\\', '\u0000', '\u001b[31m', '\n', '\r\n', '\u202e', '😀', 'é', '"', "'", '<script>', '${x}', '?', '#', '&', '=', '+', ';'];

/** Text that stresses parsers: control and odd characters among ordinary ones. */
const oddText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.array(fc.constantFrom(...ODD), { maxLength: 6 }).map((parts) => parts.join('')),
  fc.integer({ min: 65, max: 400 }).map((length) => 'a'.repeat(length)),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'null', 'undefined', 'NaN', '-1', '1e400', '0x10'),
);

/** A path segment: sent encoded, or as it is (fetch's URL parser encodes what it must). */
function segment(pool: readonly string[]): fc.Arbitrary<string> {
  const value = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...pool) }, { weight: 3, arbitrary: oddText });
  return fc.tuple(value, fc.boolean()).map(([text, encode]) => {
    if (!encode) return text.replace(/[/?#]/g, encodeURIComponent);
    try {
      return encodeURIComponent(text);
    } catch {
      return 'x'; // a lone surrogate has no encoding
    }
  });
}

const HUGE_NUMBERS = ['1e400', '-1e400', '123456789012345678901234567890', '9007199254740993', '-0', '4.9e-324', '1E+309', '0.1', '-1', '2147483648'];
const FIELDS = ['orderId', 'amount', 'currency', 'expiresInSeconds', 'expiresAt', 'description', 'reason', 'channel', 'returnUrl', 'payerIp', 'resolution', 'note', 'outcome', 'notificationId', 'paymentId', 'status', 'outTradeNo', 'timeExpire', 'notifyUrl', 'apiDown', 'createStallMs', 'returnTo'];

function nestedText(depth: number, array: boolean): string {
  return array ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

const jsonText = fc.jsonValue({ maxDepth: 5 }).map((value) => JSON.stringify(value));
/** The fields the endpoints know, with values of every wrong type (and huge numbers, raw). */
const wrongTypes = fc
  .array(fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(jsonText, fc.constantFrom(...HUGE_NUMBERS))), { maxLength: 6 })
  .map((entries) => `{${entries.map(([key, raw]) => `${JSON.stringify(key)}:${raw}`).join(',')}}`);
const prototypeKeys = fc
  .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), jsonText, fc.integer({ min: 0, max: 3 }))
  .map(([key, value, depth]) => '{"x":'.repeat(depth) + `{"amount":100,"currency":"CNY",${JSON.stringify(key)}:${value}}` + '}'.repeat(depth));
const deep = fc
  .tuple(fc.oneof(fc.constantFrom(33, 64, 1_000, 3_000, 5_000, 8_000), fc.noBias(fc.integer({ min: 20, max: 8_000 }))), fc.boolean())
  .map(([depth, array]) => nestedText(depth, array));
const manyKeys = fc.integer({ min: 900, max: 1_500 }).map((count) => JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]))));
const notJson = fc.oneof(oddText, fc.constantFrom('', 'null', 'true', '"text"', '12', '{', '{"a":1,}', "{'a':1}", 'a=1&__proto__[x]=1', '\uFEFF{}'));

const body = fc.oneof(
  { weight: 3, arbitrary: jsonText },
  { weight: 3, arbitrary: wrongTypes },
  { weight: 2, arbitrary: prototypeKeys },
  { weight: 2, arbitrary: deep },
  { weight: 1, arbitrary: manyKeys },
  { weight: 2, arbitrary: notJson },
);

const QUERY_KEYS = ['after', 'limit', 'status', 'merchant', 'from', 'to', 'cursor', 'paymentId', 'lang', 'format', 'kind', 'day', '__proto__', 'constructor'];
const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), oddText), fc.oneof(oddText, fc.constantFrom(...HUGE_NUMBERS, '0', '1', '1000', '1001', '2026-11-30T00:00:00.000Z'))), { maxLength: 5 })
  .chain((pairs) =>
    fc.boolean().map((encode) => {
      const enc = (text: string) => {
        try {
          return encode ? encodeURIComponent(text) : text.replace(/[#&=]/g, encodeURIComponent);
        } catch {
          return 'x';
        }
      };
      return pairs.length === 0 ? '' : `?${pairs.map(([key, value]) => `${enc(key)}=${enc(value)}`).join('&')}`;
    }),
  );

/** Header values fetch lets through: visible ASCII, spaces and tabs. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 }),
  fc.constantFrom('', 'null', 'Bearer x', 't=1,v1=00', 'gzip', 'br', 'deflate', 'identity', 'x-unknown'),
);
/** Sometimes: most generated requests should get past the parsers, to reach validation and the handlers. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight = 2) => fc.oneof({ weight: 10 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary });
const headers = fc
  .record({
    'content-type': fc.oneof(
      { weight: 7, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'application/json; charset=latin1',
          'application/json; charset=utf-16',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/problem+json',
          '*/*',
        ),
      },
    ),
    accept: sometimes(fc.constantFrom('application/json', 'text/html', 'text/csv', '*/*', 'image/png', 'application/xml'), 5),
    'x-correlation-id': sometimes(headerValue, 5),
    authorization: sometimes(headerValue),
    'content-encoding': sometimes(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'x-unknown'), 1),
    'sandbox-signature': sometimes(headerValue),
    'accept-language': sometimes(headerValue),
    'wechatpay-signature': sometimes(headerValue, 1),
    'x-forwarded-for': sometimes(headerValue, 1),
  })
  .map((all) => Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined)));

// ---- the run ----------------------------------------------------------------------------------

describe('generated requests to every endpoint', () => {
  let app: TestApp;
  let alipay: AlipayStandIn;
  let wechat: WechatpayStandIn;
  let routes: Route[];
  /** Real ids, so that generated requests also reach existing orders, payments and streams. */
  const known: Record<string, string[]> = {};

  beforeAll(async () => {
    // The real providers' channels on too (against local stand-ins), so their callbacks parse generated input.
    const alipayApp = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wechatpay = { mchid: '1900000109', appid: 'wxd678efh567hg6787', apiV3Key: 'Q3de1ZJB1kG2e7VfTs3jQzaWizur8GbX', merchantSerial: '5A1B2C3D4E5F60718293A4B5C6D7E8F901234567' };
    alipay = await AlipayStandIn.start({ appId: '2021000000000042', appPublicKey: alipayApp.publicKey });
    wechat = await WechatpayStandIn.start({ ...wechatpay, merchantPublicKey: merchant.publicKey });
    // Open mode (no API_KEYS), the sandbox on; no sweep during the run.
    app = await startTestApp({
      RECONCILE_INTERVAL_SECONDS: '3600',
      ALIPAY_APP_ID: '2021000000000042',
      ALIPAY_PRIVATE_KEY: alipayApp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      ALIPAY_PUBLIC_KEY: alipay.alipayPublicKeyPem,
      ALIPAY_GATEWAY_URL: alipay.gatewayUrl,
      WECHATPAY_MCHID: wechatpay.mchid,
      WECHATPAY_APPID: wechatpay.appid,
      WECHATPAY_API_V3_KEY: wechatpay.apiV3Key,
      WECHATPAY_PRIVATE_KEY: merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      WECHATPAY_CERT_SERIAL: wechatpay.merchantSerial,
      WECHATPAY_PLATFORM_PUBLIC_KEY: wechat.platformPublicKeyPem,
      WECHATPAY_PLATFORM_SERIAL: wechat.platformSerial,
      WECHATPAY_BASE_URL: wechat.baseUrl,
    });
    routes = app.running.routes.filter((route) => route.method !== 'HEAD' && !route.path.includes('*'));
    const orderIds = ['fuzz-order-1', 'fuzz-order-2'];
    const paymentIds: string[] = [];
    for (const orderId of orderIds) {
      expect((await app.request('POST', '/orders', { orderId, amount: 1999, currency: 'CNY', expiresInSeconds: 3600 })).status).toBe(201);
      for (const channel of ['sandbox-bank', 'sandbox-wallet', 'alipay', 'wechatpay']) {
        const started = await app.request('POST', `/orders/${orderId}/payments`, { channel, payerIp: '203.0.113.7' });
        expect(started.status).toBe(201);
        paymentIds.push(started.body.paymentId);
      }
    }
    Object.assign(known, {
      orderId: [...orderIds, 'unknown-order', 'merchant.fuzz-order-1'],
      paymentId: [...paymentIds, 'pay_unknown'],
      outTradeNo: [...paymentIds, 'pay_unknown'],
      refundId: paymentIds.map((id) => `refund-${id}`),
      channel: ['sandbox-bank', 'sandbox-wallet', 'alipay', 'wechatpay', 'unknown'],
      provider: ['bank', 'wallet', 'unknown'],
      streamName: [...orderIds.map((id) => `order-${id}`), ...paymentIds.map((id) => `payment-${id}`), 'refund-x'],
      slug: ['validation', 'not-found', 'internal', 'unknown'],
      token: ['cs_unknown'],
      name: ['checkout.js', 'checkout.css', 'unknown.js'],
      action: ['payments', 'confirm', 'unknown'],
    });
    await app.settle();
  });
  afterAll(async () => {
    await app?.close();
    await Promise.all([alipay?.close(), wechat?.close()]);
  });

  it('lists the routes it fuzzes from the app itself, the ones the issue names among them', () => {
    const listed = new Set(routes.map((route) => `${route.method} ${route.path}`));
    for (const route of [
      'POST /orders',
      'GET /orders',
      'GET /orders/:orderId',
      'POST /orders/:orderId/close',
      'GET /orders/:orderId/checkout',
      'POST /orders/:orderId/payments',
      'GET /payments/:paymentId',
      'POST /payments/:paymentId/sync',
      'POST /refunds/:refundId/resolve',
      'POST /channels/:channel/notifications',
      'GET /channels/:channel/return',
      'GET /audit/events',
      'GET /audit/streams/:streamName',
      'GET /reports/anomalies',
      'GET /reports/settlement',
      'GET /health/live',
      'GET /health/ready',
      'GET /metrics',
      'PUT /sandbox/faults',
      'POST /sandbox/pay/:paymentId',
    ]) {
      expect({ route, listed: listed.has(route) }).toEqual({ route, listed: true });
    }
  });

  it('answers every one without a 5xx, refuses with problem+json, and records nothing when it refuses', async () => {
    const request: fc.Arbitrary<{ request: FuzzRequest; route: Route }> = fc
      .constantFrom(...routes)
      .chain((route) => {
        const names = [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1]);
        // Not the real payments on the sandbox's own routes: paying one there would have its notification
        // arrive in the middle of a later request, and the log move under it.
        const pool = (name: string) => (route.path.startsWith('/sandbox') ? ['pay_unknown', 'bank', 'wallet'] : (known[name] ?? ['x']));
        const params = fc.tuple(...names.map((name) => segment(pool(name)))) as fc.Arbitrary<string[]>;
        const method = fc.oneof({ weight: 9, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') });
        return fc.record({ params, query, headers, body: fc.option(body, { nil: undefined, freq: 4 }), method }).map(({ params: values, query: search, headers: sent, body: text, method: verb }) => {
          let index = 0;
          const path = route.path.replace(/:(\w+)/g, () => values[index++] || 'x');
          const withBody = verb !== 'GET' && verb !== 'HEAD' && text !== undefined;
          return { route, request: { method: verb, path, query: search, headers: sent, body: withBody ? text : undefined } };
        });
      });

    let sent = 0;
    let head = 0;
    const exempt = new Map<string, number>();
    const property = fc.asyncProperty(request, async ({ request: fuzz, route }) => {
      sent++;
      const before = (head = await logHead(app, head));
      const answer = await send(app, fuzz);
      const described = `${fuzz.method} ${fuzz.path}${fuzz.query} -> ${answer.status} ${answer.headers.get('content-type') ?? ''} ${String(answer.text).slice(0, 300)}`;
      if (answer.status >= 500) throw new Error(`a 5xx: ${described}`);
      // Alipay's callback answers its refusals `fail` (its own format); unsigned generated input is always refused.
      const refused = answer.status >= 400 || (/^\/channels\/alipay\/notifications/i.test(new URL(fuzz.path, 'http://x').pathname) && answer.text !== 'success');
      if (refused) {
        const own = ownFormat(fuzz);
        if (own !== null) exempt.set(own, (exempt.get(own) ?? 0) + 1);
        else if (answer.status >= 400 && !/^application\/problem\+json\b/.test(answer.headers.get('content-type') ?? '')) throw new Error(`a 4xx that is not problem+json: ${described}`);
        const appended = await eventsAfter(app, before);
        const correlationId = answer.headers.get('x-correlation-id');
        // Background work (expiry, reactions to an earlier success) appends under correlation ids of its own.
        const ours = appended.filter((event) => correlationId === null || event.metadata.correlationId === correlationId);
        if (ours.length > 0) throw new Error(`a refused request appended ${ours.map((event) => `${event.type} to ${event.streamName}`).join(', ')}: ${described}`);
      }
      if (answer.status < 300 && route.path === '/sandbox/faults' && fuzz.method === 'PUT') await app.faults({});
      await app.settle();
    });

    try {
      await fc.assert(property, { seed: SEED, numRuns: RUNS, plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)] });
    } catch (error) {
      throw new Error(`fuzz failed with FUZZ_SEED=${SEED} (FUZZ_RUNS=${RUNS}); replay: FUZZ_SEED=${SEED} NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/fuzz.e2e.spec.ts\n${(error as Error).message}`, { cause: error });
    }
    expect(sent).toBeGreaterThan(Math.min(RUNS, 200));
    // The exempt formats were reached too (and their 4xx were not 5xx).
    expect(exempt.size).toBeGreaterThan(0);
  }, 90_000);
});

interface RawAnswer extends Omit<Answer, 'body'> {
  readonly text: string;
}

async function send(app: TestApp, request: FuzzRequest): Promise<RawAnswer> {
  const response = await fetch(`${app.url}${request.path}${request.query}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: 'manual',
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** The position of the last event of the log, read on from `from` (a head read before). */
async function logHead(app: TestApp, from = 0): Promise<number> {
  let after = from;
  for (;;) {
    const page = await app.request<{ events: AuditEvent[]; next: number }>('GET', `/audit/events?after=${after}&limit=1000`);
    if (page.status !== 200) throw new Error(`reading the log failed: ${page.status}`);
    if (page.body.events.length === 0) return after;
    after = page.body.next;
  }
}

async function eventsAfter(app: TestApp, position: number): Promise<AuditEvent[]> {
  const page = await app.request<{ events: AuditEvent[] }>('GET', `/audit/events?after=${position}&limit=1000`);
  if (page.status !== 200) throw new Error(`reading the log failed: ${page.status}`);
  return page.body.events;
}
