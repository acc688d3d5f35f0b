import { PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { problem } from './problem.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { answerClientError } from './server-lifecycle.js';

/** The largest request body, as sent and once decompressed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** The most fields a form body may hold. */
const FORM_FIELD_LIMIT = 1000;

export interface ServedRoute {
  readonly method: string;
  /** The route template, `/orders/:orderId`. */
  readonly path: string;
}

/**
 * Nest on Fastify. Paths match without regard to case and with or without a final slash (as they
 * did on Express: clients and the auth guard's patterns rely on it); a request Node's HTTP parser
 * refuses is answered as problem+json (server-lifecycle.ts); JSON keys named __proto__ or
 * constructor are kept, so that the body shape guard refuses them with a field name.
 */
export function createHttpAdapter(): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 1000 },
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    clientErrorHandler: answerClientError,
    return503OnClosing: false,
    // What the router refuses before any hook runs: a path whose percent-escapes do not decode.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      for (const [name, value] of SECURITY_HEADERS) reply.header(name, value);
      const body = error.code === 'FST_ERR_BAD_URL' ? problem('validation', 'the request path holds a percent-escape that does not decode') : problem('validation', 'the request is not valid');
      void reply.status(body.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(body));
    },
  });
}

/**
 * The bodies the service reads, each kept as sent too (`rawBody`, for the providers' signatures):
 * JSON (an object or an array: a bare string or number is not a request body) and HTML forms, in
 * UTF-8, optionally compressed (gzip, deflate, br); another charset or content encoding is `415`,
 * text that does not parse is `400 validation`, an empty body is `{}`. A body of any other type
 * is read and set aside: the handler gets none, and its validation says what is missing.
 */
export function parseBodies(app: NestFastifyApplication): void {
  app.useBodyParser('application/json', { bodyLimit: BODY_LIMIT_BYTES }, (request, body, done) => {
    const text = decodedText(request, body);
    if (text.length === 0) return done(null, {});
    const first = /\S/.exec(text)?.[0];
    let value: unknown;
    try {
      if (first !== '{' && first !== '[') throw new SyntaxError('not an object or an array');
      value = JSON.parse(text);
    } catch {
      return done(notJson(), undefined);
    }
    done(null, value);
  });
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit: BODY_LIMIT_BYTES }, (request, body, done) => {
    const text = decodedText(request, body);
    if (text.split('&').length > FORM_FIELD_LIMIT) throw new PayloadTooLargeException('the form has too many fields');
    done(null, { ...parseQueryString(text) });
  });
  app.getHttpAdapter().getInstance().addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (_request, _body, done) => done(null, undefined));
}

/** A parse failure of the body, as the exception filter knows it. */
function notJson(): Error {
  return Object.assign(new Error('the body is not valid JSON'), { statusCode: 400, type: 'entity.parse.failed' });
}

/** The body as text: decompressed, and in UTF-8 (the only charset read). */
function decodedText(request: { readonly headers: IncomingHttpHeaders }, body: Buffer): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw new UnsupportedMediaTypeException(`unsupported charset "${charset.toUpperCase()}"`);
  return inflated(request.headers['content-encoding'], body).toString('utf8');
}

function inflated(encoding: string | undefined, body: Buffer): Buffer {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return body;
  const inflate = name === 'gzip' ? gunzipSync : name === 'deflate' ? inflateSync : name === 'br' ? brotliDecompressSync : null;
  if (inflate === null) throw new UnsupportedMediaTypeException(`unsupported content encoding "${name}"`);
  try {
    return inflate(body, { maxOutputLength: BODY_LIMIT_BYTES });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new PayloadTooLargeException('the request body exceeds 64 KiB');
    throw notJson();
  }
}
