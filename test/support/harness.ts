/**
 * Starts the real service on a socket for e2e tests and drives it as another service would:
 * over HTTP only. Each app gets its own data directory (a real SQLite file) unless told otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPayguard, type RunningPayguard } from '../../src/infrastructure/bootstrap.js';
import type { Clock } from '../../src/application/ports/clock.port.js';

export interface Answer<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export interface TestApp {
  readonly url: string;
  readonly dataDir: string;
  readonly running: RunningPayguard;
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  faults(faults: Record<string, unknown>): Promise<void>;
  /** The sandbox provider's payer presses "Pay" on the provider page. */
  pay(paymentId: string): Promise<Answer>;
  /** Resolves once every log follower (process manager, refunds, open work) has caught up with the log. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestApp(env: Record<string, string> = {}, options: { keepDataDir?: string; clock?: Clock } = {}): Promise<TestApp> {
  const dataDir = options.keepDataDir ?? mkdtempSync(join(tmpdir(), 'payguard-e2e-'));
  const running = await startPayguard({
    env: {
      PORT: '0',
      DATA_DIR: dataDir,
      SANDBOX_NOTIFY_DELAY_MS: '0',
      PAYMENT_MIN_VALIDITY_SECONDS: '1',
      CHANNEL_EXPIRY_MARGIN_SECONDS: '0',
      ...env,
    },
    host: '127.0.0.1',
    logger: ['error'],
    clock: options.clock,
  });
  const url = running.url;
  const request = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body !== undefined && { 'content-type': 'application/json' }), accept: 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  };
  return {
    url,
    dataDir,
    running,
    request,
    async faults(faults) {
      const answer = await request('PUT', '/sandbox/faults', faults);
      if (answer.status !== 200) throw new Error(`faults refused: ${answer.status} ${JSON.stringify(answer.body)}`);
    },
    pay: (paymentId) => request('POST', `/sandbox/pay/${paymentId}`, {}),
    async settle() {
      await running.workers.settled(await running.store.headPosition());
    },
    async close() {
      await running.close();
      if (options.keepDataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export { eventually } from './wait.js';
