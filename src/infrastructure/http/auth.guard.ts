import { createParamDecorator, HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { pathOf, type HttpReply, type HttpRequest } from './http-types.js';
import { timingSafeEqual, createHash } from 'node:crypto';
import { OPEN_VIEWER, type Viewer } from '../../application/shared/viewer.js';
import type { ApiKey } from '../config/config.js';
import { problem } from './problem.js';
import { correlationIdOf } from './correlation-id.middleware.js';

export const API_KEYS = Symbol('ApiKeys');

// Routes match case-insensitively (/AUDIT/events reaches the audit log: http-platform.ts), so these match the same way.
/** Paths anyone may call: channel callbacks (providers and payers' browsers), the sandbox (but setting its faults), health, docs, problem pages and the hosted checkout (its token is its key). */
const PUBLIC = [/^\/channels\//i, /^\/sandbox(\/|$)/i, /^\/health\//i, /^\/docs(\/|$|-)/i, /^\/openapi\.json$/i, /^\/problems\//i, /^\/checkout\//i];
const AUDIT = /^\/audit\//i;
/** Prometheus metrics: for auditor and operator keys (they show volumes across every merchant). */
const METRICS = /^\/metrics\/?$/i;
/** What only an operator (or the open service) may change. */
const OPERATOR_ONLY = /^\/refunds\/[^/]+\/resolve$/i;
/** The sandbox's fault switches: anyone may read them, only an operator may set them (they decide what the provider does with money). */
const SANDBOX_FAULTS = /^\/sandbox\/faults\/?$/i;

type WithViewer = HttpRequest & { viewer?: Viewer };

/**
 * API_KEYS authentication. Without keys the service runs open. A merchant key sees its own orders
 * only; an auditor key reads everything and changes nothing; an operator key reads everything and
 * resolves failed refunds.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly keys: { digest: Buffer; key: ApiKey }[];

  constructor(@Inject(API_KEYS) keys: readonly ApiKey[] | null) {
    this.keys = keys === null ? [] : keys.map((key) => ({ digest: digest(key.key), key }));
    this.open = keys === null;
  }

  private readonly open: boolean;

  canActivate(context: ExecutionContext): boolean {
    // Open (no API keys): CurrentViewer gives the open viewer when none is set, and a new property
    // on Node's request object costs a few microseconds per request.
    if (this.open) return true;
    const request = context.switchToHttp().getRequest<WithViewer>();
    const path = routePath(request);
    const reads = request.method === 'GET' || request.method === 'HEAD';
    if (PUBLIC.some((pattern) => pattern.test(path)) && (reads || !SANDBOX_FAULTS.test(path))) {
      request.viewer = OPEN_VIEWER;
      return true;
    }
    const key = this.find(request.headers.authorization);
    if (key === undefined) {
      throw new HttpException({ problem: problem('unauthorized', 'send Authorization: Bearer <key> with a valid API key') }, 401);
    }
    if (key.role === 'auditor') {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        throw new HttpException({ problem: problem('forbidden', 'an auditor key is read-only') }, 403);
      }
      request.viewer = { kind: 'auditor' };
      return true;
    }
    if (key.role === 'operator') {
      if (!reads && !OPERATOR_ONLY.test(path) && !SANDBOX_FAULTS.test(path)) {
        throw new HttpException({ problem: problem('forbidden', 'an operator key reads, resolves refunds and sets sandbox faults; it changes nothing else') }, 403);
      }
      request.viewer = { kind: 'operator' };
      return true;
    }
    if (AUDIT.test(path)) throw new HttpException({ problem: problem('forbidden', 'the audit log is for auditor keys') }, 403);
    if (METRICS.test(path)) throw new HttpException({ problem: problem('forbidden', 'the metrics are for auditor and operator keys') }, 403);
    if (OPERATOR_ONLY.test(path)) throw new HttpException({ problem: problem('forbidden', 'resolving a refund needs an operator key') }, 403);
    if (SANDBOX_FAULTS.test(path)) throw new HttpException({ problem: problem('forbidden', 'setting sandbox faults needs an operator key') }, 403);
    request.viewer = { kind: 'merchant', merchantId: key.merchantId };
    return true;
  }

  private find(header: string | undefined): ApiKey | undefined {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (match === null) return undefined;
    const candidate = digest(match[1]);
    // Compare digests in constant time, so response timing says nothing about the keys.
    return this.keys.find(({ digest: known }) => timingSafeEqual(known, candidate))?.key;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export const CurrentViewer = createParamDecorator((_: unknown, context: ExecutionContext): Viewer => {
  return context.switchToHttp().getRequest<WithViewer>().viewer ?? OPEN_VIEWER;
});

/** The caller's X-Correlation-Id when it is a sane token, else the id the middleware made: what it put in the response header. */
export const CorrelationId = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  return correlationIdOf(context.switchToHttp().getResponse<HttpReply>().raw);
});

/**
 * The route template the router matched (`/refunds/:refundId/resolve`): what these patterns are
 * about, whatever case, escapes or final slash the path was sent with.
 */
function routePath(request: HttpRequest): string {
  return request.routeOptions.url ?? pathOf(request);
}
