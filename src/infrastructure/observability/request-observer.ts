import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
 * (`traceparent` in, `traceparent` out with our span); once the answer is sent (or the client is
 * gone), the access line is written (with the correlation id and the trace) and the latency
 * observed. The route is the route template (`/orders/:orderId`), never the path: a path may carry
 * a checkout token or bytes meant to forge a line, and a template keeps the metric's label set small.
 */
export function observeRequests(fastify: FastifyInstance, { ids, logger, accessLog, metrics }: RequestObserverOptions): void {
  const traces = new WeakMap<object, TraceContext>();
  const observing = accessLog || metrics !== null;
  const served = (request: FastifyRequest, reply: FastifyReply, aborted: boolean): void => {
    const seconds = reply.elapsedTime / 1e3;
    const route = routeOf(request);
    const status = reply.statusCode;
    metrics?.requestServed(request.method, route, status, seconds);
    if (!accessLog || logger === null) return;
    const trace = traces.get(request);
    const line = {
      correlationId: correlationIdOf(reply.raw),
      ...(trace !== undefined && { traceId: trace.traceId, spanId: trace.spanId, parentSpanId: trace.parentSpanId }),
      method: request.method,
      route,
      status,
      durationMs: Math.round(reply.elapsedTime * 1e3) / 1e3,
      ...(aborted && { aborted: true }),
    };
    if (status >= 500) logger.warn(line, 'request');
    else logger.info(line, 'request');
  };
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
    if (observing) {
      // On 'finish' (answered), or on 'close' first when the client hung up before its answer was
      // finished (Fastify's onResponse does not run then): once, either way.
      let once = false;
      const finished = (): void => {
        if (once) return;
        once = true;
        served(request, reply, !reply.raw.writableFinished);
      };
      reply.raw.once('finish', finished);
      reply.raw.once('close', finished);
    }
    done();
  });
}

/** The route template a controller serves; 'unmatched' when none took the request (a 404, or a refusal before routing). */
function routeOf(request: FastifyRequest): string {
  const url = request.routeOptions.url;
  return typeof url === 'string' && url !== '' && !url.includes('*') ? url : 'unmatched';
}
