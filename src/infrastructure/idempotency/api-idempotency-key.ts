import { ApiHeader } from '@nestjs/swagger';

/**
 * The OpenAPI description of the Idempotency-Key header, for the POST handlers the interceptor
 * covers (see takesIdempotencyKey): the document then says what the service does with it.
 */
export const ApiIdempotencyKey = (): MethodDecorator =>
  ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes a retry safe: the same key and body within 24 h answer the first answer again (Idempotent-Replayed: true) and run nothing; ' +
      'the same key with another request is 409 idempotency-conflict; a copy sent while the first runs is 409 idempotency-in-flight. Keys are per merchant.',
    // No example: Swagger UI would send the same key with every "Try it out", and the second request would be a conflict.
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7E]{1,255}$' },
  });
