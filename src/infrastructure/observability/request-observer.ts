import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { IdGenerator } from '../../application/ports/clock.port.js';
import { assignCorrelationId, correlationIdOf } from '../http/correlation-id.middleware.js';
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
 * Registered on the Fastify instance before any route, so that it runs first for every request,
 * before the body is read, and a request refused there (413, a bad body, an unknown route) is
 * logged and counted too: `onRequest` settles the correlation id and continues a W3C trace
 * (`traceparent` in, `traceparent` out with our span); `onResponse` writes the access line (with
 * the correlation id and the trace) and observes the latency. The route is the route template
 * (`/orders/:orderId`), never the path: a path may carry a checkout token or bytes meant to forge
 * a line, and a template keeps the metric's label set small.
 */
export function observeRequests(fastify: FastifyInstance, { ids, logger, accessLog, metrics }: RequestObserverOptions): void {
  const traces = new WeakMap<object, TraceContext>();
  fastify.addHook('onRequest', (request, reply, done) => {
    assignCorrelationId(request.raw, reply.raw, ids);
    const header = request.headers.traceparent;
    if (header !== undefined) {
      const trace = continueTrace(header);
      if (trace !== null) {
        reply.raw.setHeader('traceparent', traceparentOf(trace));
        traces.set(request, trace);
      }
    }
    done();
  });
  if (!accessLog && metrics === null) return;
  fastify.addHook('onResponse', (request, reply, done) => {
    const seconds = reply.elapsedTime / 1e3;
    const route = routeOf(request);
    const status = reply.statusCode;
    metrics?.requestServed(request.method, route, status, seconds);
    if (accessLog && logger !== null) {
      const trace = traces.get(request);
      const correlationId = correlationIdOf(reply.raw);
      const line = {
        correlationId,
        ...(trace !== undefined && { traceId: trace.traceId, spanId: trace.spanId, parentSpanId: trace.parentSpanId }),
        method: request.method,
        route,
        status,
        durationMs: Math.round(reply.elapsedTime * 1e3) / 1e3,
        ...(!reply.raw.writableFinished && { aborted: true }),
      };
      if (status >= 500) logger.warn(line, 'request');
      else logger.info(line, 'request');
    }
    done();
  });
}

/** The route template a controller serves; 'unmatched' when none took the request (a 404, or a refusal before routing). */
function routeOf(request: FastifyRequest): string {
  const url = request.routeOptions.url;
  return typeof url === 'string' && url !== '' && !url.includes('*') ? url : 'unmatched';
}
