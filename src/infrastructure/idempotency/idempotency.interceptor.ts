import { HttpException, Inject, Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor, type OnApplicationShutdown } from '@nestjs/common';
import { from, mergeMap, of, type Observable } from 'rxjs';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../../application/ports/clock.port.js';
import { IDEMPOTENCY_STORE, type IdempotencyStore, type IdempotentAnswer } from '../../application/ports/idempotency-store.port.js';
import { OPEN_VIEWER, type Viewer } from '../../application/shared/viewer.js';
import { problem } from '../http/problem.js';
import { captureAnswer } from './answer-capture.js';
import { checkIdempotencyKey, IDEMPOTENCY_HEADER, idempotencyScope, REPLAYED_HEADER, requestFingerprint, takesIdempotencyKey } from './idempotency-key.js';
import { correlated } from '../../application/shared/log-lines.js';
import { correlationIdOf } from '../http/correlation-id.middleware.js';
import { pathOf, type HttpReply, type HttpRequest } from '../http/http-types.js';

/** How long a key and its answer are kept. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/**
 * How long a claim holds while its request runs. Far longer than any command takes (a channel call
 * times out within seconds): only a claim whose process died outlives it, and then the same
 * request may take the key over.
 */
export const IDEMPOTENCY_LEASE_MS = 60_000;
/** Expired keys are deleted at most this often (by the service clock), in the background of a claim. */
const PURGE_EVERY_MS = 3600_000;

type WithViewer = HttpRequest & { viewer?: Viewer };

/**
 * `Idempotency-Key` on the POSTs of the merchant and operator API, at the HTTP edge: it runs after
 * the auth guard (the key space is the caller's) and before the validation pipe and the handler,
 * and it sees the answer as sent, the exception filter's problems included. The first request with
 * a key claims it; its final answer (2xx, or a 4xx that a retry would get again) is stored before
 * it is sent; a retry with the same request gets that answer again, marked `Idempotent-Replayed:
 * true`; another request with the key is `409 idempotency-conflict`; a retry while the first still
 * runs is `409 idempotency-in-flight` (as Stripe does), so the command never runs twice.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor, OnApplicationShutdown {
  private readonly logger = new Logger('Idempotency');
  private lastPurge = Number.NEGATIVE_INFINITY;

  constructor(
    @Inject(IDEMPOTENCY_STORE) private readonly store: IdempotencyStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<WithViewer>();
    const response = context.switchToHttp().getResponse<HttpReply>();
    const header = request.headers[IDEMPOTENCY_HEADER];
    if (header === undefined || !takesIdempotencyKey(request.method, pathOf(request))) return next.handle();
    return from(this.begin(request, response, checkIdempotencyKey(header))).pipe(
      mergeMap((replay) => (replay === null ? next.handle() : of(replay))),
    );
  }

  /** Claims the key (then null: the handler runs) or answers from what holds it (the body to send again). */
  private async begin(request: WithViewer, response: HttpReply, key: string): Promise<string | null> {
    const scope = idempotencyScope(request.viewer ?? OPEN_VIEWER);
    const fingerprint = requestFingerprint(request.method, pathOf(request), request.body);
    const now = this.clock.now();
    const token = this.ids.uuid();
    const claimed = await this.store.claim({
      scope,
      key,
      fingerprint,
      token,
      now,
      expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
      leaseUntil: new Date(now.getTime() + IDEMPOTENCY_LEASE_MS),
    });
    this.purgeNowAndThen(now);
    if (claimed.outcome === 'claimed') {
      captureAnswer(request, (answer) => this.settle(scope, key, token, answer, correlationIdOf(response.raw)));
      return null;
    }
    if (claimed.fingerprint !== fingerprint) {
      throw new HttpException(
        { problem: problem('idempotency-conflict', 'this Idempotency-Key was used with another request (method, path or body); use a new key for a new request') },
        409,
      );
    }
    if (claimed.outcome === 'in-flight') {
      response.header('Retry-After', '1');
      throw new HttpException({ problem: problem('idempotency-in-flight', 'a request with this Idempotency-Key is still running; retry it in a moment to get its answer') }, 409);
    }
    response.status(claimed.answer.status);
    if (claimed.answer.contentType !== '') response.header('Content-Type', claimed.answer.contentType);
    response.header(REPLAYED_HEADER, 'true');
    return claimed.answer.body;
  }

  /** Stores a final answer; gives the key up after one a retry could change (5xx, a lost race), so the retry runs. */
  private async settle(scope: string, key: string, token: string, answer: IdempotentAnswer, correlationId: string): Promise<void> {
    if (!isFinal(answer)) return this.release(scope, key, token, correlationId);
    try {
      if (!(await this.store.complete(scope, key, token, answer))) {
        this.logger.warn(correlated(correlationId, `an answer for an Idempotency-Key of ${scope} was not stored: its claim was taken over (the request outlived its lease)`));
      }
    } catch (error) {
      // The command ran: its answer still goes out. A retry gets 409 idempotency-in-flight until the lease ends, then runs again.
      this.logger.error(correlated(correlationId, `storing the answer for an Idempotency-Key of ${scope} failed: ${(error as Error).message}`));
    }
  }

  private async release(scope: string, key: string, token: string, correlationId: string): Promise<void> {
    try {
      await this.store.release(scope, key, token);
    } catch (error) {
      this.logger.error(correlated(correlationId, `releasing an Idempotency-Key of ${scope} failed (it frees itself when its lease ends): ${(error as Error).message}`));
    }
  }

  private purgeNowAndThen(now: Date): void {
    if (now.getTime() - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now.getTime();
    this.store.purgeExpired(now).catch((error: unknown) => this.logger.error(`deleting expired Idempotency-Keys failed: ${(error as Error).message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/**
 * A final answer: a 2xx, or a 4xx the same request would get again. Not a 5xx (the provider or
 * the store may answer next time), a 408 or 429, nor `409 concurrency-conflict` (a lost race: the
 * problem page itself says to retry).
 */
export function isFinal(answer: IdempotentAnswer): boolean {
  if (answer.status >= 200 && answer.status < 300) return true;
  if (answer.status < 400 || answer.status >= 500 || answer.status === 408 || answer.status === 429) return false;
  return !answer.body.includes('"type":"https://payguard.dev/problems/concurrency-conflict"');
}
