/**
 * What the HTTP platform (Nest on Fastify, src/infrastructure/http/http-platform.ts) promises
 * clients, over a socket against the real app: paths match whatever their case and final slash,
 * bodies are read as they were on Express (empty JSON is {}, a bare JSON string is refused, UTF-8
 * only, compressed bodies are inflated), a GET answer carries an ETag and answers a matching
 * If-None-Match with 304, and what the router refuses is problem+json with the security headers.
 * A refused request appends nothing.
 */
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import { logHead } from '../support/audit-log.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';

describe('the HTTP platform', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  /** A GET with exactly these headers (fetch() would add Cache-Control: no-cache to a conditional request). */
  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const request = httpGet(`${app.url}${path}`, { headers }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      });
      request.on('error', reject);
    });
  const send = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${app.url}${path}`, { method, headers, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) });

  it('matches a path whatever its case and with a final slash', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'case-1', amount: 1999, currency: 'CNY' })).status).toBe(201);

    for (const path of ['/ORDERS/case-1', '/Orders/case-1/', '/orders/case-1/']) {
      const answer = await send('GET', path);
      expect([path, answer.status]).toEqual([path, 200]);
      expect((await answer.json()).orderId).toBe('case-1');
    }
  });

  it('gives a GET answer an ETag, and answers 304 without a body when If-None-Match names it', async () => {
    await app.request('POST', '/orders', { orderId: 'etag-1', amount: 1999, currency: 'CNY' });
    const first = await get('/orders/etag-1');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);

    const again = await get('/orders/etag-1', { 'if-none-match': etag });
    expect([again.status, again.body]).toEqual([304, '']);
    expect((await get('/orders/etag-1', { 'if-none-match': `"other", ${etag}` })).status).toBe(304);
    // Asked not to use a cache (as fetch() asks whenever it is given If-None-Match), or holding another version: the whole answer.
    expect((await get('/orders/etag-1', { 'if-none-match': etag, 'cache-control': 'no-cache' })).status).toBe(200);
    expect((await get('/orders/etag-1', { 'if-none-match': 'W/"0-x"' })).status).toBe(200);

    // The order changes: so does its ETag.
    expect((await app.request('POST', '/orders/etag-1/close', { reason: 'test' })).status).toBe(200);
    const changed = await get('/orders/etag-1', { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('reads an empty JSON body as {} (the handler names the missing fields)', async () => {
    const answer = await send('POST', '/orders', '', { 'content-type': 'application/json' });
    const body = await answer.json();
    expect(answer.status).toBe(400);
    expect(body.type).toBe(`${PROBLEMS}validation`);
    expect(body.errors.map((error: { field: string }) => error.field)).toEqual(expect.arrayContaining(['amount', 'currency']));
  });

  it.each([
    ['a bare JSON string', '"an order"'],
    ['a bare JSON number', '1999'],
    ['text that is not JSON', '{"amount": 1999,'],
  ])('refuses %s as "not valid JSON", and records nothing', async (_, text) => {
    const before = await logHead(app);
    const answer = await send('POST', '/orders', text, { 'content-type': 'application/json' });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(await answer.json()).toMatchObject({ type: `${PROBLEMS}validation`, errors: [{ field: 'body', message: 'not valid JSON' }] });
    expect(await logHead(app)).toBe(before);
  });

  it('inflates a gzip body, and refuses one that does not inflate', async () => {
    const order = JSON.stringify({ orderId: 'gzip-1', amount: 1999, currency: 'CNY' });
    const placed = await send('POST', '/orders', gzipSync(order), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(placed.status).toBe(201);
    expect((await placed.json()).orderId).toBe('gzip-1');

    const broken = await send('POST', '/orders', order, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(broken.status).toBe(400);
    expect((await broken.json()).type).toBe(`${PROBLEMS}validation`);
  });

  it('refuses a body over 64 KiB once inflated as 413', async () => {
    const huge = JSON.stringify({ orderId: 'big-1', amount: 1999, currency: 'CNY', description: 'x'.repeat(70_000) });
    const answer = await send('POST', '/orders', gzipSync(huge), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(answer.status).toBe(413);
    expect((await answer.json()).type).toBe(`${PROBLEMS}payload-too-large`);
  });

  it.each([
    ['a charset other than UTF-8', { 'content-type': 'application/json; charset=latin1' }, 'unsupported charset "LATIN1"'],
    ['a content encoding it does not know', { 'content-type': 'application/json', 'content-encoding': 'compress' }, 'unsupported content encoding "compress"'],
  ])('refuses %s as 415', async (_, headers, detail) => {
    const answer = await send('POST', '/orders', '{}', headers);
    expect(answer.status).toBe(415);
    expect(await answer.json()).toMatchObject({ type: `${PROBLEMS}unsupported-media-type`, detail });
  });

  it('sets a body of another type aside: the handler gets none', async () => {
    const answer = await send('POST', '/orders', JSON.stringify({ orderId: 'text-1', amount: 1999, currency: 'CNY' }), { 'content-type': 'text/plain' });
    expect(answer.status).toBe(400);
    expect((await answer.json()).type).toBe(`${PROBLEMS}validation`);
    expect((await send('GET', '/orders/text-1')).status).toBe(404);
  });

  it('answers a path that does not decode with problem+json and the security headers', async () => {
    const answer = await send('GET', '/orders/%zz');
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect((await answer.json()).type).toBe(`${PROBLEMS}validation`);
  });

  it('answers an unknown route 404 problem+json, with the security headers and a correlation id', async () => {
    const answer = await send('GET', '/nowhere', undefined, { 'x-correlation-id': 'corr-nowhere' });
    expect(answer.status).toBe(404);
    expect(answer.headers.get('x-frame-options')).toBe('DENY');
    expect(answer.headers.get('x-correlation-id')).toBe('corr-nowhere');
    expect(await answer.json()).toMatchObject({ type: `${PROBLEMS}not-found`, detail: 'no route GET /nowhere' });
  });
});
