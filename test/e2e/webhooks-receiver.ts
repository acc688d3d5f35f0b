/** A merchant's webhook receiver for the webhook tests: a real HTTP server that records every delivery and checks its signature. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLocally } from '../support/local-server.js';

/** The README's verification snippet ("Verifying a webhook"), as a receiver would write it. */
export function verifyPayguardSignature(secret: string, header: string, rawBody: string | Buffer, now = Date.now()): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.trim().split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface Received {
  readonly id: string;
  readonly type: string;
  readonly createdAt: string;
  readonly data: Record<string, any>;
  /** The signature checked against the secret the receiver was given (false when it had none). */
  readonly signed: boolean;
  readonly eventIdHeader: string | undefined;
  /** What the receiver answered (0: the sender was gone before it could). */
  readonly answered: number;
}

/**
 * Listens on 127.0.0.1. `answer` decides each status (default 200) and may hold the answer back
 * (return a promise); `secret` is set once the endpoint is created.
 */
export async function startReceiver(answer: (body: Received, count: number) => number | Promise<number> = () => 200) {
  const received: Received[] = [];
  let secret: string | null = null;
  let count = 0;
  const { server, origin } = await listenLocally(() => async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const event = JSON.parse(raw.toString('utf8'));
    const header = request.headers['payguard-signature'];
    const signed = secret !== null && typeof header === 'string' && verifyPayguardSignature(secret, header, raw);
    const pending = { ...event, signed, eventIdHeader: request.headers['payguard-event-id'] as string | undefined, answered: 0 };
    const status = await answer(pending, ++count);
    // The sender went away (killed) before the answer: nothing was acknowledged.
    const gone = response.destroyed || request.socket.destroyed;
    received.push({ ...pending, answered: gone ? 0 : status });
    if (!gone) response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
  });
  return {
    url: `${origin}/hooks/payguard`,
    received,
    setSecret(value: string) {
      secret = value;
    },
    /** Acknowledged deliveries (2xx), by event id. */
    acknowledged(): Received[] {
      return received.filter((r) => r.answered >= 200 && r.answered < 300);
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
