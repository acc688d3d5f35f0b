import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';

/** A weak validator of a body: its length and a digest of its bytes (the form Express used). */
export function weakEtag(body: string | Buffer): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const digest = createHash('sha1').update(bytes).digest('base64').slice(0, 27);
  return `W/"${bytes.length.toString(16)}-${digest}"`;
}

/** Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 13.1.2). */
export function matchesIfNoneMatch(header: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.trim() === '*' || header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/**
 * ETag on every 2xx answer to a GET or HEAD whose body is text or bytes, and `304 Not Modified`
 * (no body) when the request's If-None-Match names it, unless the request says `Cache-Control:
 * no-cache`. A client polling an order's state gets the same ETag until the state changes.
 */
export function answerConditionalGets(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const method = request.method;
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : null;
    if ((method !== 'GET' && method !== 'HEAD') || body === null || reply.statusCode < 200 || reply.statusCode > 299) return done(null, payload);
    const etag = typeof reply.getHeader('etag') === 'string' ? (reply.getHeader('etag') as string) : weakEtag(body);
    void reply.header('ETag', etag);
    const condition = request.headers['if-none-match'];
    const noCache = /(?:^|,)\s*no-cache\s*(?:,|$)/i.test(request.headers['cache-control'] ?? '');
    if (typeof condition !== 'string' || noCache || !matchesIfNoneMatch(condition, etag)) return done(null, payload);
    void reply.status(304).removeHeader('content-type').removeHeader('content-length');
    done(null, '');
  });
}
