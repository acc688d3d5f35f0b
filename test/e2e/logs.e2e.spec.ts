/**
 * The service's logs as an operator gets them: the built `npm start` entry run as its own process,
 * its stdout read line by line. One JSON object per line; an access line per request with the
 * correlation id (and the caller's W3C trace); the correlation id on every line written while a
 * request is handled; nothing a request carries can break a line; LOG_LEVEL=warn keeps only warnings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPayguard } from '../../src/infrastructure/bootstrap.js';
import { createRootLogger } from '../../src/infrastructure/observability/logging.js';
import { correlated } from '../../src/application/shared/log-lines.js';
import { ensureBuilt, MAIN, spawnService, type ServiceProcess } from '../support/processes.js';
import { eventually } from '../support/harness.js';

interface LogLine {
  readonly level: string;
  readonly time: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** Every line the process wrote, each parsed as one JSON object (a line that is not one fails the test). */
function linesOf(service: ServiceProcess): LogLine[] {
  const text = service.output();
  // Only whole lines: the last one may still be on its way through the pipe.
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').slice(0, -1);
  return lines.map((line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`not a JSON line: ${JSON.stringify(line)}`);
    }
    expect(parsed).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) }));
    return parsed as LogLine;
  });
}

async function call(service: ServiceProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  await response.arrayBuffer();
  return response;
}

const accessLines = (lines: readonly LogLine[]) => lines.filter((line) => line.msg === 'request');

describe('JSON logs of the service run as users run it', () => {
  const dataDirs: string[] = [];
  const services: ServiceProcess[] = [];
  const start = async (env: Record<string, string>): Promise<ServiceProcess> => {
    const dataDir = mkdtempSync(join(tmpdir(), 'payguard-logs-'));
    dataDirs.push(dataDir);
    // A loaded machine (the whole suite on two cores) may take a while to start a process.
    const service = await spawnService('payguard', MAIN, { DATA_DIR: dataDir, SANDBOX_NOTIFY_DELAY_MS: '0', ...env }, { timeoutMs: 60_000 });
    services.push(service);
    return service;
  };

  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    for (const service of services) await service.kill('SIGTERM');
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  describe('at the default level (info)', () => {
    let service: ServiceProcess;
    beforeAll(async () => {
      service = await start({});
    }, 90_000);

    it('writes one JSON object per line, and says at start-up which address it binds: every interface', async () => {
      const lines = linesOf(service);
      const listening = lines.find((line) => line.msg.startsWith('listening on'));
      expect(listening).toMatchObject({ level: 'info', context: 'Payguard' });
      expect(listening!.msg).toMatch(/^listening on every interface, port \d+ \(public base URL http:\/\/127\.0\.0\.1:\d+\)$/);
      expect(lines.some((line) => line.msg.includes('API_KEYS is not set') && line.level === 'warn')).toBe(true);
    });

    it('writes an access line per request with method, route template, status, duration and the correlation id', async () => {
      const answer = await call(service, 'POST', '/orders', { orderId: 'log-1', amount: 500, currency: 'CNY' }, { 'x-correlation-id': 'corr-log-1' });
      expect(answer.status).toBe(201);
      expect(answer.headers.get('x-correlation-id')).toBe('corr-log-1');
      await call(service, 'GET', '/orders/log-1');
      const lines = await eventually(async () => accessLines(linesOf(service)), (found) => found.some((line) => line.route === '/orders/:orderId'), 5_000, 'access lines');
      const placed = lines.find((line) => line.correlationId === 'corr-log-1');
      expect(placed).toMatchObject({ level: 'info', method: 'POST', route: '/orders', status: 201, durationMs: expect.any(Number) });
      const read = lines.find((line) => line.route === '/orders/:orderId');
      // Without X-Correlation-Id the service makes one, and says it in the response and the line.
      expect(read).toMatchObject({ method: 'GET', status: 200, correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    });

    it('logs a request whose client hung up before the answer, marked aborted, once', async () => {
      expect((await call(service, 'POST', '/orders', { orderId: 'log-abort', amount: 500, currency: 'CNY' })).status).toBe(201);
      // The provider stalls on creating the trade: the client gives up first.
      expect((await call(service, 'PUT', '/sandbox/faults', { createStallMs: 1_500 })).status).toBe(200);
      try {
        const gaveUp = fetch(`${service.url}/orders/log-abort/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-correlation-id': 'corr-abort' },
          body: JSON.stringify({ channel: 'sandbox-bank' }),
          signal: AbortSignal.timeout(300),
        });
        await expect(gaveUp).rejects.toThrow();
        const lines = await eventually(async () => accessLines(linesOf(service)).filter((line) => line.correlationId === 'corr-abort'), (found) => found.length > 0, 5_000, 'the aborted line');
        expect(lines[0]).toMatchObject({ method: 'POST', route: '/orders/:orderId/payments', aborted: true });
        // The stalled call ends after the client left: still one line for the request.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        expect(accessLines(linesOf(service)).filter((line) => line.correlationId === 'corr-abort')).toHaveLength(1);
      } finally {
        await call(service, 'PUT', '/sandbox/faults', {});
      }
    });

    it('continues a W3C trace: the caller trace id in the line, and a traceparent of our own span in the response', async () => {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const answer = await call(service, 'GET', '/health/live', undefined, { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-correlation-id': 'corr-trace' });
      const [, returnedTrace, span, flags] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(answer.headers.get('traceparent') ?? '') ?? [];
      expect([returnedTrace, flags]).toEqual([traceId, '01']);
      expect(span).not.toBe('00f067aa0ba902b7');
      const line = await eventually(async () => accessLines(linesOf(service)).find((found) => found.correlationId === 'corr-trace'), (found) => found !== undefined, 5_000, 'the traced line');
      expect(line).toMatchObject({ traceId, spanId: span, parentSpanId: '00f067aa0ba902b7', route: '/health/live' });
      // A malformed traceparent starts nothing and is not echoed.
      expect((await call(service, 'GET', '/health/live', undefined, { traceparent: 'zz-not-a-trace' })).headers.get('traceparent')).toBeNull();
    });

    it('puts the correlation id on every line written while the request is handled, not only the access line', async () => {
      const started = await call(service, 'POST', '/orders', { orderId: 'log-2', amount: 700, currency: 'CNY' });
      expect(started.status).toBe(201);
      const payment = await fetch(`${service.url}/orders/log-2/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'sandbox-bank' }) }).then((response) => response.json());
      expect((await call(service, 'PUT', '/sandbox/faults', { apiDown: true })).status).toBe(200);
      // The return page syncs the payment; the provider is down, so the controller warns, and the page still answers.
      await call(service, 'GET', `/channels/sandbox-bank/return?paymentId=${payment.paymentId}`, undefined, { 'x-correlation-id': 'corr-warn' });
      await call(service, 'PUT', '/sandbox/faults', {});
      const lines = await eventually(async () => linesOf(service).filter((line) => line.correlationId === 'corr-warn'), (found) => found.length >= 2, 5_000, 'the lines of the return');
      expect(lines.find((line) => line.msg !== 'request')).toMatchObject({ level: 'warn', context: 'ChannelsController', msg: expect.stringContaining('sync failed') });
      expect(lines.find((line) => line.msg === 'request')).toMatchObject({ route: '/channels/:channel/return' });
    });

    it('logs a route template, never the raw path: nothing a path carries (escapes, line breaks) reaches a line', async () => {
      await call(service, 'GET', '/orders/%1b%5b31mred%0d%0a%7b%22level%22%3a%22fatal%22%7d', undefined, { 'x-correlation-id': 'corr-forge' });
      await call(service, 'GET', '/nowhere/%1b%5d0%3btitle%07', undefined, { 'x-correlation-id': 'corr-unmatched' });
      const lines = await eventually(async () => accessLines(linesOf(service)), (found) => found.some((line) => line.correlationId === 'corr-unmatched'), 5_000, 'access lines');
      expect(lines.find((line) => line.correlationId === 'corr-forge')).toMatchObject({ route: '/orders/:orderId', status: 400 });
      expect(lines.find((line) => line.correlationId === 'corr-unmatched')).toMatchObject({ route: 'unmatched', status: 404 });
      expect(service.output()).not.toMatch(/\u001b|"level":"fatal"|title\u0007/);
    });
  });

  it('LOG_LEVEL=warn keeps warnings and drops info lines, the access lines among them', async () => {
    const service = await start({ LOG_LEVEL: 'warn' });
    await call(service, 'POST', '/orders', { orderId: 'quiet-1', amount: 500, currency: 'CNY' });
    await call(service, 'GET', '/orders/quiet-1');
    const lines = linesOf(service);
    expect(lines.map((line) => line.level)).toContain('warn'); // API_KEYS is not set
    expect(lines.filter((line) => line.level === 'info' || line.level === 'debug')).toEqual([]);
    expect(accessLines(lines)).toEqual([]);
  }, 90_000);
});

/** A pino destination that keeps what it is given. */
function memoryStream(): { write(chunk: string): void; lines(): LogLine[] } {
  let text = '';
  return {
    write: (chunk) => void (text += chunk),
    lines: () => text.split('\n').slice(0, -1).map((line) => JSON.parse(line) as LogLine),
  };
}

describe('the JSON logger', () => {
  it('escapes what JSON leaves as it is (C1 controls, line separators, bidirectional overrides) and indents continuation lines', () => {
    const stream = memoryStream();
    createRootLogger('info', stream).warn('id \u009b31m \u2028forged\u202e\nfake line');
    const [line] = stream.lines();
    expect(line.msg).toBe('id \\x9b31m \\u2028forged\\u202e\n    fake line');
  });

  it('escapes the message of a line given with its correlation id the same way, and keeps the id', () => {
    const stream = memoryStream();
    createRootLogger('info', stream).warn(correlated('corr-object', 'id \u009b31m\nfake line'));
    const [line] = stream.lines();
    expect(line).toMatchObject({ correlationId: 'corr-object', msg: 'id \\x9b31m\n    fake line' });
  });

  it('writes to a given stream in-process, as a benchmark comparing LOG_LEVEL=info with warn uses it', async () => {
    const stream = memoryStream();
    const dataDir = mkdtempSync(join(tmpdir(), 'payguard-logs-stream-'));
    const running = await startPayguard({ env: { PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' }, host: '127.0.0.1', logStream: stream });
    try {
      const answer = await fetch(`${running.url}/health/live`, { headers: { 'x-correlation-id': 'corr-stream' } });
      expect(answer.status).toBe(200);
      const line = await eventually(async () => stream.lines().find((found) => found.correlationId === 'corr-stream'), (found) => found !== undefined, 5_000, 'the access line');
      expect(line).toMatchObject({ msg: 'request', route: '/health/live', status: 200 });
      expect(stream.lines().find((found) => found.msg.startsWith('listening on'))?.msg).toMatch(/^listening on 127\.0\.0\.1:\d+ /);
    } finally {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
