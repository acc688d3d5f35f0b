/**
 * Webhook delivery latency: from an event's record in the log to its arrival at the merchant's
 * receiver, with the service run as its own process the way users run it (`node dist/src/main.js`,
 * SQLite in a scratch DATA_DIR, or PostgreSQL in a fresh schema with --store=postgres).
 *
 * Load: `--orders` orders paid at a steady `--rate` per second (each: POST /orders, POST
 * /orders/{id}/payments on sandbox-bank, and the sandbox payer's POST /sandbox/pay; the in-process
 * sandbox then notifies the service, which records PaymentSucceeded and OrderPaid). One endpoint
 * is subscribed to `order.paid` and `payment.succeeded`; the receiver, in this process, answers 204
 * at once and checks every signature.
 *
 * A sample: arrival time at the receiver minus the delivered event's `createdAt` (its
 * metadata.occurredAt: when the service recorded it; same machine, same clock). occurredAt is
 * taken just before the append commits, so the figure includes the commit itself. The first
 * `--warmup` orders' deliveries are left out.
 *
 *   npm run bench:webhooks -- --orders=300 --rate=20 [--warmup=30] [--store=postgres]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { numberOption, options } from './args.js';
import { percentile, round, sleep } from './stats.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

interface Arrival {
  readonly id: string;
  readonly type: string;
  readonly orderId: string;
  readonly latencyMs: number;
  readonly signed: boolean;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The README's verification, as a receiver runs it. */
function verify(secret: string, header: string, raw: Buffer): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.trim().split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function receiver(arrivals: Arrival[], secret: () => string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const arrived = Date.now();
      const raw = Buffer.concat(chunks);
      const event = JSON.parse(raw.toString('utf8')) as { id: string; type: string; createdAt: string; data: { orderId: string } };
      const header = request.headers['payguard-signature'];
      arrivals.push({
        id: event.id,
        type: event.type,
        orderId: event.data.orderId,
        latencyMs: arrived - Date.parse(event.createdAt),
        signed: typeof header === 'string' && verify(secret(), header, raw),
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/payguard` };
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

async function startService(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ; await sleep(50)) {
    if (child.exitCode !== null) throw new Error(`payguard exited:\n${output}`);
    if (await fetch(`${url}/health/ready`).then((r) => r.ok, () => false)) return { child, url, output: () => output };
    if (Date.now() > deadline) throw new Error(`payguard not ready:\n${output}`);
  }
}

async function main(): Promise<void> {
  const args = options();
  const orders = numberOption(args, 'orders', 300);
  const rate = numberOption(args, 'rate', 20);
  const warmup = numberOption(args, 'warmup', Math.min(30, Math.floor(orders / 10)));
  const store = args.get('store') ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') throw new Error('--store must be sqlite or postgres');

  const dataDir = mkdtempSync(join(tmpdir(), 'payguard-bench-webhooks-'));
  const schema = `bench_webhooks_${randomBytes(4).toString('hex')}`;
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    SANDBOX_NOTIFY_DELAY_MS: '0',
    LOG_LEVEL: 'warn',
    ...(store === 'postgres' && { EVENT_STORE: 'postgres', DATABASE_URL, DATABASE_SCHEMA: schema }),
  };
  const arrivals: Arrival[] = [];
  let secret = '';
  const sink = await receiver(arrivals, () => secret);
  const service = await startService(env);
  try {
    const endpoint = await call(service.url, 'POST', '/webhook-endpoints', { url: sink.url, events: ['order.paid', 'payment.succeeded'] });
    secret = endpoint.secret;
    const run = randomBytes(3).toString('hex');
    const started = Date.now();
    const placing: Promise<void>[] = [];
    for (let i = 0; i < orders; i++) {
      const due = started + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      const orderId = `bw-${run}-${i}`;
      placing.push(
        (async () => {
          await call(service.url, 'POST', '/orders', { orderId, amount: 1000 + i, currency: 'CNY' });
          const payment = await call(service.url, 'POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' });
          await call(service.url, 'POST', `/sandbox/pay/${payment.paymentId}`, {});
        })(),
      );
    }
    await Promise.all(placing);
    const offeredSeconds = (Date.now() - started) / 1000;
    for (const deadline = Date.now() + 60_000; arrivals.length < orders * 2 && Date.now() < deadline; ) await sleep(50);

    const warm = new Set(Array.from({ length: warmup }, (_, i) => `bw-${run}-${i}`));
    const measured = arrivals.filter((a) => !warm.has(a.orderId));
    const sorted = measured.map((a) => a.latencyMs).sort((x, y) => x - y);
    const ids = new Set(arrivals.map((a) => a.id));
    const result = {
      store,
      orders,
      ratePerSecond: rate,
      offeredSeconds: round(offeredSeconds, 1),
      deliveries: arrivals.length,
      expected: orders * 2,
      duplicates: arrivals.length - ids.size,
      badSignatures: arrivals.filter((a) => !a.signed).length,
      measured: sorted.length,
      latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] },
    };
    console.log(JSON.stringify(result, null, 2));
    if (result.deliveries < result.expected || result.badSignatures > 0) process.exitCode = 1;
  } finally {
    service.child.kill('SIGTERM');
    await new Promise((resolve) => service.child.once('exit', resolve));
    sink.server.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (store === 'postgres') {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }
}

await main();
