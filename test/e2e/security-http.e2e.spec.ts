/**
 * HTTP hardening, driven over the socket as a client (or an attacker) would: security headers on
 * every answer, bodies refused on their shape before validation, log lines that a request cannot
 * forge, server timeouts, /metrics for auditors and operators, and a graceful shutdown that
 * lets requests in flight finish but is not held up by a client that never finishes sending.
 */
import { ArgumentsHost, Logger } from '@nestjs/common';
import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { MAIN, ensureBuilt, spawnService, type ServiceProcess } from '../support/processes.js';
import { expectProblem, expectValidationProblem } from '../support/contract.js';
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';
import { bodyShapeProblem, MAX_BODY_DEPTH, MAX_BODY_KEYS } from '../../src/infrastructure/http/body-limits.js';
import { escapeForLog, sanitizeLogMessage } from '../../src/infrastructure/http/log-sanitizer.js';
import { ProblemFilter } from '../../src/infrastructure/http/problem.filter.js';
import { SERVER_TIMEOUTS } from '../../src/infrastructure/http/server-lifecycle.js';

/** A JSON object nested `depth` levels deep (the outermost object is level 1). */
function nested(depth: number): string {
  return '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
}

/** Sends `raw` on a fresh socket and gives back everything the server wrote until it closed. */
function rawExchange(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

function expectSecurityHeaders(headers: Headers | Record<string, string>): void {
  const get = (name: string) => (headers instanceof Headers ? headers.get(name) : headers[name.toLowerCase()]);
  const csp = get('content-security-policy') ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/(^|;)\s*default-src 'self'/);
  // Scripts only from the service's own origin: no inline script, no eval.
  expect(csp).toMatch(/(^|;)\s*script-src 'self'(;|$)/);
  expect(get('x-content-type-options')).toBe('nosniff');
  expect(get('x-frame-options')).toBe('DENY');
  expect(get('referrer-policy')).toBe('no-referrer');
}

describe('HTTP hardening', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  const head = async (): Promise<number> => (await app.request('GET', '/health/ready')).body.head;
  /** The request, and that it appended nothing to the log. */
  const recordsNothing = async (send: () => Promise<Answer>): Promise<Answer> => {
    await app.settle();
    const before = await head();
    const answer = await send();
    await app.settle();
    expect({ appended: (await head()) - before }).toEqual({ appended: 0 });
    return answer;
  };

  describe('security headers', () => {
    it.each([
      ['a JSON answer', 'GET', '/health/live', undefined, 200],
      ['a problem (unknown route)', 'GET', '/nowhere', undefined, 404],
      ['a body that is not JSON', 'POST', '/orders', '{"amount":', 400],
      ['a body over 64 KiB', 'POST', '/orders', JSON.stringify({ description: 'x'.repeat(70_000) }), 413],
      ['the OpenAPI UI', 'GET', '/docs', undefined, 200],
      ["the sandbox provider's page", 'GET', '/sandbox/pay/pay_unknown', undefined, 404],
      ['the metrics', 'GET', '/metrics', undefined, 200],
    ])('are on %s', async (_, method, path, body, status) => {
      const answer = await app.request(method, path, body);
      expect(answer.status).toBe(status);
      expectSecurityHeaders(answer.headers);
    });

    it("are on what Node's HTTP parser refuses, answered as problem+json", async () => {
      const answer = await rawExchange(app.url, 'GET /orders/a\u001b[31mb HTTP/1.1\r\nHost: x\r\n\r\n');
      const [head, body] = answer.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(body)).toMatchObject({ type: 'https://payguard.dev/problems/validation', status: 400 });
      expectSecurityHeaders(headers);
    });

    it('leave the OpenAPI UI working: it runs no inline script, only its own files', async () => {
      const docs = await app.request('GET', '/docs', undefined, { accept: 'text/html' });
      const scripts = [...(docs.body as string).matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, inline] of scripts) {
        expect({ attributes, inline: inline.trim() }).toEqual({ attributes: expect.stringMatching(/\bsrc=['"]/), inline: '' });
        const src = /\bsrc=['"]([^'"]+)['"]/.exec(attributes)![1];
        const script = await fetch(new URL(src, `${app.url}/docs`));
        // Read whole: an answer left unread holds its connection open, and the app's close waits for it.
        const text = await script.text();
        expect({ src, status: script.status, type: script.headers.get('content-type'), length: text.length > 0 }).toEqual({
          src,
          status: 200,
          type: expect.stringMatching(/javascript/),
          length: true,
        });
        expect(new URL(src, `${app.url}/docs`).origin).toBe(app.url);
      }
    });
  });

  describe('request bodies, checked on the raw parse', () => {
    it('refuses JSON nested 5,000 deep with 400 validation (it was a 500: class-transformer overflowed the stack), recording nothing', async () => {
      const answer = await recordsNothing(() => app.request('POST', '/orders', nested(5_000)));
      expectValidationProblem(answer, 'body');
      expect(answer.body.detail).toBe(`body: nests deeper than ${MAX_BODY_DEPTH} levels`);
    });

    it(`takes ${MAX_BODY_DEPTH} levels and refuses ${MAX_BODY_DEPTH + 1}`, async () => {
      const deepest = await app.request('POST', '/orders', `{"amount":100,"currency":"CNY","x":${nested(MAX_BODY_DEPTH - 1)}}`);
      // Past the shape check: refused by validation for its unknown field, not for its depth.
      expectValidationProblem(deepest, 'x');
      const tooDeep = await app.request('POST', '/orders', `{"amount":100,"currency":"CNY","x":${nested(MAX_BODY_DEPTH)}}`);
      expectValidationProblem(tooDeep, 'body');
    });

    it(`refuses more than ${MAX_BODY_KEYS} keys in all`, async () => {
      const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));
      const atLimit = await app.request('POST', '/orders', { amount: 100, currency: 'CNY', extra: keys(MAX_BODY_KEYS - 3) });
      expectValidationProblem(atLimit, 'extra');
      const over = await recordsNothing(() => app.request('POST', '/orders', { amount: 100, currency: 'CNY', extra: keys(MAX_BODY_KEYS - 2) }));
      expectValidationProblem(over, 'body');
      expect(over.body.detail).toBe(`body: has more than ${MAX_BODY_KEYS} keys`);
    });

    it.each([
      ['__proto__ at the top', '{"orderId":"proto-1","amount":100,"currency":"CNY","__proto__":{"isAdmin":true}}', 'body.__proto__'],
      ['constructor.prototype deeper down', '{"amount":100,"currency":"CNY","description":"d","meta":{"constructor":{"prototype":{"x":1}}}}', 'body.meta.constructor'],
      ['prototype inside an array', '[{"ok":1},{"prototype":1}]', 'body[1].prototype'],
    ])('refuses the key %s with 400 validation, recording nothing', async (_, raw, field) => {
      const answer = await recordsNothing(() => app.request('POST', '/orders', raw));
      expectValidationProblem(answer, field);
    });

    it('applies to every route, the channel notifications and the sandbox included', async () => {
      for (const path of ['/channels/sandbox-bank/notifications', '/sandbox/api/bank/trades', '/orders/proto-2/payments', '/refunds/refund-x/resolve']) {
        expectValidationProblem(await recordsNothing(() => app.request('POST', path, '{"__proto__":{"polluted":true}}')), 'body.__proto__');
      }
      expectValidationProblem(await app.request('PUT', '/sandbox/faults', nested(100)), 'body');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('walks the body without recursion (it is what refuses deep bodies)', () => {
      let deep: unknown = {};
      for (let i = 0; i < 200_000; i++) deep = [deep];
      expect(bodyShapeProblem(deep)).toEqual({ field: 'body', message: `nests deeper than ${MAX_BODY_DEPTH} levels` });
      expect(bodyShapeProblem({ a: [{ b: 1 }], c: 'constructor' })).toBeNull();
    });

    it('answers a charset or Content-Encoding it cannot read as a problem, not a 500', async () => {
      expectProblem(await app.request('POST', '/orders', '{}', { 'content-type': 'application/json; charset=latin1' }), 415, 'unsupported-media-type');
      expectProblem(await app.request('POST', '/orders', '{}', { 'content-encoding': 'gzip' }), 400, 'validation');
    });
  });

  describe('log lines', () => {
    it('escape control characters and ANSI escapes in values from requests', () => {
      expect(escapeForLog('/orders/\u001b[31mred\u001b[0m\r\n[Nest] 1 - LOG forged\u0007\u202e')).toBe('/orders/\\x1b[31mred\\x1b[0m\\r\\n[Nest] 1 - LOG forged\\x07\\u202e');
    });

    it('keep a stack trace readable, but indent every continuation line, so a value with a newline cannot forge an entry', () => {
      expect(sanitizeLogMessage('GET /x: Error: bad\n    at a (a.js:1)\n[Nest] 1 - LOG forged \u001b]0;title\u0007')).toBe(
        'GET /x: Error: bad\n    at a (a.js:1)\n    [Nest] 1 - LOG forged \\x1b]0;title\\x07',
      );
    });

    it("are sanitized by the service's logger, and the error filter escapes the request's URL", () => {
      const written: string[] = [];
      const write = process.stderr.write;
      process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
      try {
        new Logger('Test').error('id \u001b[2J\u001b[7mcleared\nfake line');
        // As a proxy might hand over a URL the client sent raw: the filter is the last line of defence.
        const request = { method: 'GET', url: '/payments/\u001b[7mx\r\nforged' };
        const response = { sent: false, raw: { headersSent: false, getHeader: () => 'corr-filter' }, status: () => response, type: () => response, send: () => response };
        const host = { switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }) } as unknown as ArgumentsHost;
        new ProblemFilter().catch(new Error('boom'), host);
      } finally {
        process.stderr.write = write;
      }
      const text = written.join('');
      expect(text).toContain('id \\x1b[2J\\x1b[7mcleared\n    fake line');
      expect(text).toContain('GET /payments/\\x1b[7mx\\r\\nforged: Error: boom');
      expect(text).toContain('(correlation id corr-filter)');
      // Nest colours its own parts of the line; none of the request's sequences is left raw.
      expect(text).not.toMatch(/\u001b\[(2J|7m)/);
    });
  });

  describe('the server', () => {
    it('limits how long a client may take to send headers and a request, and keeps idle connections past a balancer’s 60 s', () => {
      const server = app.running.app.getHttpServer() as Server;
      expect({ headersTimeout: server.headersTimeout, requestTimeout: server.requestTimeout, keepAliveTimeout: server.keepAliveTimeout }).toEqual({
        headersTimeout: SERVER_TIMEOUTS.headersTimeoutMs,
        requestTimeout: SERVER_TIMEOUTS.requestTimeoutMs,
        keepAliveTimeout: SERVER_TIMEOUTS.keepAliveTimeoutMs,
      });
      expect(SERVER_TIMEOUTS.keepAliveTimeoutMs).toBeGreaterThan(60_000);
      expect(SERVER_TIMEOUTS.headersTimeoutMs).toBeLessThanOrEqual(SERVER_TIMEOUTS.requestTimeoutMs);
    });

    it('closes without waiting out the keep-alive of a connection whose request was in flight', async () => {
      const other = await startTestApp({ EVENT_STORE: 'memory' });
      const server = other.running.app.getHttpServer() as Server;
      const body = JSON.stringify({ orderId: 'closing', amount: 100, currency: 'CNY' });
      const { hostname, port } = new URL(other.url);
      let answer = '';
      const received = new Promise<void>((resolve) => server.once('request', () => resolve()));
      const socket = await new Promise<Socket>((resolve) => {
        const opened = connect(Number(port), hostname, () => {
          // A keep-alive request whose body is still coming when the app closes.
          opened.write(`POST /orders HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
          resolve(opened);
        });
        opened.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      });
      const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await received;

      const closingAt = Date.now();
      const closed = other.close();
      await eventually(async () => server.listening, (listening) => !listening, 5_000, 'server no longer listening');
      socket.write(body.slice(5));
      await closed;

      expect(Date.now() - closingAt).toBeLessThan(5_000);
      await socketClosed;
      expect(answer).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    });
  });
});

describe('/metrics with API_KEYS set', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ API_KEYS: 'merchant-key:merchantA,auditor-key:*:auditor,operator-key:*:operator' });
  });
  afterAll(() => app.close());

  it('is for auditor and operator keys: a merchant key is 403, no key 401', async () => {
    expectProblem(await app.request('GET', '/metrics', undefined, { authorization: 'Bearer merchant-key' }), 403, 'forbidden');
    expectProblem(await app.request('GET', '/METRICS/', undefined, { authorization: 'Bearer merchant-key' }), 403, 'forbidden');
    expectProblem(await app.request('GET', '/metrics'), 401, 'unauthorized');
    for (const key of ['auditor-key', 'operator-key']) {
      const metrics = await app.request('GET', '/metrics', undefined, { authorization: `Bearer ${key}`, accept: 'text/plain' });
      expect({ key, status: metrics.status }).toEqual({ key, status: 200 });
      expect(metrics.body).toMatch(/^# TYPE payguard_http_requests_total counter$/m);
    }
  });
});

describe('a graceful shutdown (SIGTERM) of the real process', () => {
  let service: ServiceProcess;
  beforeAll(() => ensureBuilt(), 180_000);
  afterAll(() => service?.kill());

  it('stops accepting, lets a request in flight finish, cuts a client that holds its body open at the grace, and exits 0', async () => {
    const graceMs = 3_000;
    service = await spawnService('payguard', MAIN, { EVENT_STORE: 'memory', SHUTDOWN_GRACE_MS: String(graceMs), SANDBOX_NOTIFY_DELAY_MS: '0', API_KEYS: '' });
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${service.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await call('POST', '/orders', { orderId: 'in-flight', amount: 100, currency: 'CNY' })).status).toBe(201);
    // The provider takes 1.5 s to create the trade: the payment start is in flight when SIGTERM comes.
    expect((await call('PUT', '/sandbox/faults', { createStallMs: 1_500 })).status).toBe(200);
    const payment = call('POST', '/orders/in-flight/payments', { channel: 'sandbox-bank' });
    // A client that announces a body and never finishes sending it.
    const holder: Socket = await new Promise((resolve) => {
      const { hostname, port } = new URL(service.url);
      const socket = connect(Number(port), hostname, () => {
        socket.write('POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"amount":');
        resolve(socket);
      });
      socket.on('error', () => undefined);
    });
    const holderClosed = new Promise<void>((resolve) => holder.once('close', () => resolve()));
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => service.child.once('exit', (code) => resolve({ code, at: Date.now() })));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const signalledAt = Date.now();
    service.child.kill('SIGTERM');

    // No new connections once it is shutting down.
    await eventually(
      () => fetch(`${service.url}/health/live`).then(() => 'answered', (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message),
      (outcome) => outcome === 'ECONNREFUSED',
      2_000,
      'new connections refused',
    );
    // The request in flight is answered in full.
    const started = await payment;
    expect(started.status).toBe(201);
    expect(await started.json()).toMatchObject({ orderId: 'in-flight', channel: 'sandbox-bank' });
    // The holder is cut at the grace, and the process exits without waiting for it.
    await holderClosed;
    const { code, at } = await exited;
    expect(code).toBe(0);
    expect(at - signalledAt).toBeGreaterThanOrEqual(graceMs - 200);
    expect(at - signalledAt).toBeLessThan(graceMs + 5_000);
    expect(service.output()).toContain(`SIGTERM: shutting down; requests in flight have ${graceMs} ms to finish`);
    expect(service.output()).toContain(`1 request(s) still open after ${graceMs} ms: their connections were closed`);
  }, 30_000);
});
