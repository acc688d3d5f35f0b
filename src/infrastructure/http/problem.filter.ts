import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import { pathOf, type HttpReply, type HttpRequest } from './http-types.js';
import { Forbidden, InvalidRequest, NotFound } from '../../application/shared/errors.js';
import { ChannelUnavailableError, NotificationRejectedError } from '../../application/ports/channel.port.js';
import { ConcurrencyError } from '../../application/ports/event-store.port.js';
import { DomainError } from '../../domain/shared/domain-error.js';
import { escapeForLog } from './log-sanitizer.js';
import { problem, type Problem } from './problem.js';
import { correlated } from '../../application/shared/log-lines.js';
import { correlationIdOf } from './correlation-id.middleware.js';

/** Turns every error into problem+json; domain errors become HTTP only here, at the edge. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(error: unknown, host: ArgumentsHost): void {
    const context = host.switchToHttp();
    const response = context.getResponse<HttpReply>();
    const request = context.getRequest<HttpRequest>();
    const body = this.toProblem(error, request);
    if (body.status >= 500 && body.type.endsWith('/internal')) {
      // The method and URL come from the client: escaped, so they can't forge or recolour a log line.
      const line = `${escapeForLog(request.method)} ${escapeForLog(request.url)}: ${(error as Error)?.stack ?? String(error)}`;
      this.logger.error(correlated(correlationIdOf(response.raw), line));
    }
    if (response.sent || response.raw.headersSent) return;
    response.status(body.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(body));
  }

  private toProblem(error: unknown, request: HttpRequest): Problem {
    const known = problemOf(error);
    if (known !== undefined) return known;
    if (error instanceof HttpException) return fromHttpException(error, request);
    const status = (error as { statusCode?: number })?.statusCode;
    // The body parser's own errors (http-platform.ts, Fastify): a body too large, or not JSON at all.
    if (status === 413) return problem('payload-too-large', 'the request body exceeds 64 KiB');
    if (status === 400 && (error as { type?: string }).type === 'entity.parse.failed') {
      return problem('validation', 'the body is not valid JSON', { errors: [{ field: 'body', message: 'not valid JSON' }] });
    }
    // Fastify's own refusals of a request before a handler (a Content-Length the body does not match).
    if (status === 400) return problem('validation', 'the request is not valid HTTP');
    return problem('internal', 'an unexpected error occurred; it has been logged');
  }
}

/**
 * The problem an error of the domain or the application amounts to; undefined for any other
 * error. The one mapping: the filter answers with it, and a channel's notification answer too.
 */
export function problemOf(error: unknown): Problem | undefined {
  if (error instanceof DomainError) return problem(error.code, error.message, error.details);
  if (error instanceof InvalidRequest) return problem('validation', error.message, { errors: error.errors });
  if (error instanceof NotFound) return problem('not-found', error.message);
  if (error instanceof Forbidden) return problem('forbidden', error.message);
  if (error instanceof NotificationRejectedError) {
    return error.code === 'bad-signature' ? problem('bad-signature', error.message) : problem('validation', error.message, { errors: error.errors });
  }
  if (error instanceof ChannelUnavailableError) return problem('channel-unavailable', error.message);
  if (error instanceof ConcurrencyError) return problem('concurrency-conflict', 'the resource changed under too many concurrent requests');
  return undefined;
}

function fromHttpException(error: HttpException, request: HttpRequest): Problem {
  const status = error.getStatus();
  const payload = error.getResponse();
  if (typeof payload === 'object' && payload !== null && 'problem' in payload) return (payload as { problem: Problem }).problem;
  if (status === 404) return problem('not-found', `no route ${request.method} ${pathOf(request)}`);
  if (status === 413) return problem('payload-too-large', 'the request body exceeds 64 KiB');
  // The body parser's: a charset or Content-Encoding it does not read.
  if (status === 415) return problem('unsupported-media-type', error.message);
  if (status === 401) return problem('unauthorized', error.message);
  if (status === 403) return problem('forbidden', error.message);
  if (status === 400) return problem('validation', error.message, { errors: [{ field: 'body', message: error.message }] });
  return { ...problem('internal', error.message), status };
}
