import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/**
 * The Content-Security-Policy of every answer. The service's own pages (the channel return page,
 * the sandbox's pay page, problem pages) and the OpenAPI UI at /docs load scripts only from their
 * own origin (Swagger UI's init script is a file, not inline), use inline styles, and data: images
 * (Swagger UI's icons); no page runs inline script, and none may be framed (clickjacking of a pay
 * button). No form-action: the sandbox's pay form is answered by a redirect to the merchant's
 * returnUrl, on another origin, which browsers check against form-action too.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/**
 * Security headers on every answer (helmet): the policy above, X-Content-Type-Options: nosniff,
 * X-Frame-Options: DENY, Referrer-Policy: no-referrer (a return URL's query names the order),
 * Strict-Transport-Security (ignored by browsers over plain HTTP), and helmet's cross-origin
 * isolation headers. Helmet's answer does not depend on the request: it is worked out once, by
 * running helmet against a response that records what it sets, and each request gets that list.
 */
export function securityHeaderList(): readonly (readonly [string, string])[] {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  let failure: unknown;
  helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  })({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => (failure = error));
  if (failure !== undefined) throw failure as Error;
  return [...headers];
}

/** The headers, worked out once when the module loads. */
export const SECURITY_HEADERS = securityHeaderList();

/**
 * Registered on the Fastify instance before any route: the headers go on the Node response, so
 * that Fastify merges them into every answer, the refusals of the body parser and of the router
 * included (a header a handler sets itself wins).
 */
export function addSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of SECURITY_HEADERS) reply.raw.setHeader(name, value);
    done();
  });
}
