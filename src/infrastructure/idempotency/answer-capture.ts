import type { FastifyInstance } from 'fastify';
import type { IdempotentAnswer } from '../../application/ports/idempotency-store.port.js';

/** The requests whose answer is to be settled before it is sent, with what settles it. */
const pending = new WeakMap<object, (answer: IdempotentAnswer) => Promise<void>>();

/**
 * Holds back the answer to `request` until `settle` has seen it exactly as it is sent (status,
 * content type, body: a handler's value and a problem the exception filter wrote alike), so an
 * answer reaches the client only once it is stored, and a retry that follows it is replayed. A
 * client that hangs up changes nothing: the command runs on and its answer is still settled, so it
 * is kept; giving the key up then would let the client's retry run the command a second time
 * while the first still runs. Needs captureAnswers() on the app.
 */
export function captureAnswer(request: object, settle: (answer: IdempotentAnswer) => Promise<void>): void {
  pending.set(request, settle);
}

/** The Fastify `onSend` hook that settles the answers captureAnswer() asked for, once each. */
export function captureAnswers(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const settle = pending.get(request);
    if (settle === undefined) return done(null, payload);
    pending.delete(request);
    const body = payload === null || payload === undefined ? '' : Buffer.isBuffer(payload) ? payload.toString('utf8') : String(payload);
    const contentType = reply.getHeader('content-type');
    settle({ status: reply.statusCode, contentType: typeof contentType === 'string' ? contentType : '', body })
      .catch(() => undefined)
      .then(() => done(null, payload));
  });
}
