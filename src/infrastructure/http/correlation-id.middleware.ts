import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ID_GENERATOR, type IdGenerator } from '../../application/ports/clock.port.js';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Every request gets a correlation id (the caller's X-Correlation-Id if sane), carried into event metadata. */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  constructor(@Inject(ID_GENERATOR) private readonly ids: IdGenerator) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const given = request.headers['x-correlation-id'];
    // Kept in the response header only, where CorrelationId reads it: a new property on Node's
    // request object costs a few microseconds per request.
    response.setHeader('X-Correlation-Id', typeof given === 'string' && SANE.test(given) ? given : this.ids.uuid());
    next();
  }
}
