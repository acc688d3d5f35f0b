import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IdGenerator } from '../../application/ports/clock.port.js';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's correlation id: the caller's X-Correlation-Id if sane, else a new one. Kept in the
 * response header only, where CorrelationId reads it (a new property on Node's request object
 * costs a few microseconds per request). The request observer, the first middleware of every
 * request, assigns it; a second call answers what the first one set.
 */
/** The correlation id assigned to the request this response answers. */
export function correlationIdOf(response: ServerResponse): string {
  return String(response.getHeader('X-Correlation-Id') ?? '');
}

export function assignCorrelationId(request: IncomingMessage, response: ServerResponse, ids: IdGenerator): string {
  const assigned = response.getHeader('X-Correlation-Id');
  if (typeof assigned === 'string') return assigned;
  const given = request.headers['x-correlation-id'];
  const id = typeof given === 'string' && SANE.test(given) ? given : ids.uuid();
  response.setHeader('X-Correlation-Id', id);
  return id;
}
