import type { Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { problem } from './problem.js';
import { CONTENT_SECURITY_POLICY } from './security-headers.js';

/**
 * Limits of the Node HTTP server. A client gets `headersTimeoutMs` to send its request line and
 * headers and `requestTimeoutMs` for the whole request (a body is at most 64 KiB), so a slow or
 * stalled sender cannot hold a socket for long. An idle keep-alive connection is kept a little
 * longer than the 60 s idle timeout of the usual load balancers, so the server is never the one
 * that closes a connection the balancer is about to reuse.
 */
export const SERVER_TIMEOUTS = { headersTimeoutMs: 20_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000 } as const;

const trackers = new WeakMap<Server, RequestTracker>();

/** How long closing the app waits for the requests in flight before it cuts them. */
const CLOSE_CUTOFF_MS = 5_000;

/** Applies SERVER_TIMEOUTS and starts counting the requests in flight (for a graceful shutdown). */
export function configureServer(server: Server): void {
  server.headersTimeout = SERVER_TIMEOUTS.headersTimeoutMs;
  server.requestTimeout = SERVER_TIMEOUTS.requestTimeoutMs;
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeoutMs;
  if (!trackers.has(server)) trackers.set(server, new RequestTracker(server));
}

const CSP = Object.entries(CONTENT_SECURITY_POLICY)
  .map(([name, values]) => `${name} ${values.join(' ')}`)
  .join(';');

/**
 * Fastify's clientErrorHandler (http-platform.ts): what Node's HTTP parser refuses before Fastify sees it (a control character in the request
 * line or a header, headers too large, a request not received in time) is answered as every
 * other error is: problem+json, with the security headers; Node's own answer is a bare status line.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // An answer already under way on this socket can't be followed by another.
  const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
  if (error.code === 'ECONNRESET' || !socket.writable || answering) {
    socket.destroy();
    return;
  }
  const [status, reason, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request was not received in time']
        : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ ...problem('validation', detail), status });
  socket.end(
    [
      `HTTP/1.1 ${status} ${reason}`,
      'Content-Type: application/problem+json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `Content-Security-Policy: ${CSP}`,
      'X-Content-Type-Options: nosniff',
      'X-Frame-Options: DENY',
      'Referrer-Policy: no-referrer',
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}

/** Requests in flight on a server, and, once draining, a `Connection: close` on every answer. */
class RequestTracker {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private onIdle: (() => void) | null = null;
  /** How long a close waits for requests in flight before it cuts their connections (drain sets its grace). */
  private closeCutoffMs = CLOSE_CUTOFF_MS;

  constructor(private readonly server: Server) {
    // Whoever closes the server (Nest's app.close(), a drain): keep-alive connections end with
    // their last answer. Node would keep them open for keepAliveTimeout (65 s) and hold close() up.
    const close = server.close;
    const beginDraining = () => this.beginDraining();
    server.close = function (this: Server, ...args: Parameters<Server['close']>) {
      beginDraining();
      return close.apply(this, args);
    } as Server['close'];
    server.on('request', (_request, response: ServerResponse) => {
      this.inFlight.add(response);
      if (this.draining) response.setHeader('Connection', 'close');
      // 'close': answered, or the connection is gone; either way no longer in flight.
      response.once('close', () => {
        this.inFlight.delete(response);
        if (this.draining) {
          // The socket counts as idle only once Node has finished the answer, a tick later: close it then.
          setImmediate(() => this.server.closeIdleConnections());
          if (this.inFlight.size === 0) this.onIdle?.();
        }
      });
    });
  }

  /** From now on every answer closes its connection, and idle connections are closed at once. */
  private beginDraining(): void {
    if (this.draining) return;
    this.draining = true;
    for (const response of this.inFlight) if (!response.headersSent) response.setHeader('Connection', 'close');
    this.server.closeIdleConnections();
    // An answer whose headers went out before draining began keeps its connection alive: close
    // such connections as they fall idle, until the server has closed (else close waits out the keep-alive).
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50);
    sweep.unref();
    // A request that never finishes (its handler waits on something the closing app stopped)
    // must not hold the close for ever: past the cutoff its connection is cut.
    const cutoff = setTimeout(() => this.server.closeAllConnections(), this.closeCutoffMs);
    cutoff.unref();
    this.server.once('close', () => {
      clearInterval(sweep);
      clearTimeout(cutoff);
    });
  }

  async drain(graceMs: number): Promise<{ cut: number }> {
    this.closeCutoffMs = Math.max(this.closeCutoffMs, graceMs);
    // No new connections (and beginDraining, through close()).
    if (this.server.listening) this.server.close();
    else this.beginDraining();
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.onIdle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    const cut = this.inFlight.size;
    // Whatever is left (a client holding a request body open, a request past the grace) is cut off.
    this.server.closeAllConnections();
    return { cut };
  }
}

/**
 * The first half of a graceful shutdown: stop accepting connections, let the requests in flight
 * finish for up to `graceMs`, then close every connection still open. Resolves with how many
 * requests were cut off.
 */
export function drainServer(server: Server, graceMs: number): Promise<{ cut: number }> {
  let tracker = trackers.get(server);
  if (tracker === undefined) {
    tracker = new RequestTracker(server);
    trackers.set(server, tracker);
  }
  return tracker.drain(graceMs);
}
