import type { NextFunction, Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { IdGenerator } from '../../application/ports/clock.port.js';
import { assignCorrelationId } from '../http/correlation-id.middleware.js';
import type { Metrics } from '../http/metrics.js';

/** W3C Trace Context: version-traceid-parentid-flags, lower-case hex. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  readonly traceId: string;
  /** This request's own span, the parent of whatever it calls. */
  readonly spanId: string;
  /** The caller's span. */
  readonly parentSpanId: string;
  readonly flags: string;
}

/** The caller's `traceparent` continued with a span of our own; null when absent or not valid (then none is made up). */
export function continueTrace(header: string | string[] | undefined): TraceContext | null {
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim()) : null;
  if (match === null) return null;
  const [, version, traceId, parentSpanId, flags] = match;
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentSpanId)) return null;
  return { traceId, spanId: randomBytes(8).toString('hex'), parentSpanId, flags };
}

export const traceparentOf = (trace: TraceContext): string => `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;

export interface RequestObserverOptions {
  readonly ids: IdGenerator;
  /** The JSON logger (null: Nest's console logger or none, and no request logger). */
  readonly logger: Logger | null;
  /** Whether an access line is written per request (LOG_LEVEL info or lower). */
  readonly accessLog: boolean;
  /** Null with METRICS_ENABLED=false. */
  readonly metrics: Metrics | null;
}

/**
 * The first middleware of every request, before the body is read, so that a request refused
 * there (413, a bad body) is logged and counted too: it settles the correlation id, continues a
 * W3C trace (`traceparent` in, `traceparent` out with our span), puts a request logger carrying
 * both on `req.log` (nestjs-pino makes it the logger of everything logged while the request is
 * handled), and on the way out writes the access line and observes the latency. The route is
 * the route template (`/orders/:orderId`), never the path: a path may carry a checkout token or
 * bytes meant to forge a line, and a template keeps the metric's label set small.
 */
export function requestObserver({ ids, logger, accessLog, metrics }: RequestObserverOptions) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const correlationId = assignCorrelationId(request, response, ids);
    const trace = continueTrace(request.headers.traceparent);
    if (trace !== null) response.setHeader('traceparent', traceparentOf(trace));
    if (logger !== null) {
      request.log = logger.child(trace === null ? { correlationId } : { correlationId, traceId: trace.traceId, spanId: trace.spanId, parentSpanId: trace.parentSpanId });
    }
    if (accessLog || metrics !== null) {
      let done = false;
      const finished = (): void => {
        if (done) return;
        done = true;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = routeOf(request);
        const status = response.statusCode;
        metrics?.requestServed(request.method, route, status, seconds);
        if (accessLog && request.log !== undefined) {
          const line = { method: request.method, route, status, durationMs: Math.round(seconds * 1e6) / 1e3, ...(!response.writableFinished && { aborted: true }) };
          if (status >= 500) request.log.warn(line, 'request');
          else request.log.info(line, 'request');
        }
      };
      response.once('finish', finished);
      response.once('close', finished);
    }
    next();
  };
}

/** A wildcard is where a middleware was mounted (`*path`, `{/*splat}`), not a route: no controller took the request. */
function routeOf(request: Request): string {
  const path = (request.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' && !path.includes('*') ? `${request.baseUrl}${path}` : 'unmatched';
}
