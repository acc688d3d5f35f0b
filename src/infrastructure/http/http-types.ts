import type { FastifyReply, FastifyRequest } from 'fastify';

/** The request as controllers, guards, interceptors and the exception filter see it (Nest on Fastify). */
export type HttpRequest = FastifyRequest<{ Querystring: Record<string, unknown> }> & { rawBody?: Buffer };
/** The reply as they see it. */
export type HttpReply = FastifyReply;

/** The request's path, without its query string, as the client sent it (not decoded). */
export function pathOf(request: { readonly url: string }): string {
  const query = request.url.indexOf('?');
  return query === -1 ? request.url : request.url.slice(0, query);
}

/** A request header as one string: the first value of a repeated one, undefined when absent. */
export function headerOf(request: { readonly headers: Record<string, string | string[] | undefined> }, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** A text type with `charset=utf-8` added when it names none (what a string body is sent in). */
export function withCharset(type: string): string {
  return /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript))/i.test(type) && !/;\s*charset=/i.test(type) ? `${type}; charset=utf-8` : type;
}
