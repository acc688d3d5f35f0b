/**
 * Stored answers of requests sent with an `Idempotency-Key`: one row per (scope, key), where the
 * scope is the caller's key space (a merchant, the operators, or the open service). Every adapter
 * (memory, SQLite, PostgreSQL) keeps exactly these promises, checked by
 * test/int/idempotency-store.contract.ts.
 */

/** An answer as it was sent: replayed byte for byte, with its status and content type. */
export interface IdempotentAnswer {
  readonly status: number;
  readonly contentType: string;
  /** The body as UTF-8 text (every answer of the API is JSON). */
  readonly body: string;
}

export interface IdempotencyClaim {
  readonly scope: string;
  readonly key: string;
  /** What the request asked (a hash of method, path and canonical body). */
  readonly fingerprint: string;
  /** Unique per attempt: only the claim's holder may complete or release it. */
  readonly token: string;
  readonly now: Date;
  /** When the key is forgotten (24 h after its first use). */
  readonly expiresAt: Date;
  /** Until when the claim holds while its request runs; a claim left past it (the process died) may be taken over. */
  readonly leaseUntil: Date;
}

/**
 * `claimed`: this request holds the key and runs. `answered`: a request holding the key finished,
 * with `answer`. `in-flight`: a request holding the key still runs. `fingerprint` is what that
 * first request asked: the caller compares it with its own.
 */
export type ClaimOutcome =
  | { readonly outcome: 'claimed' }
  | { readonly outcome: 'answered'; readonly fingerprint: string; readonly answer: IdempotentAnswer }
  | { readonly outcome: 'in-flight'; readonly fingerprint: string };

export interface IdempotencyStore {
  /**
   * Atomically: takes the key when it is unknown, expired (at or before `now`), or held by an
   * expired lease with the same fingerprint; otherwise says what holds it. Of concurrent claims of
   * one key, exactly one is `claimed`.
   */
  claim(claim: IdempotencyClaim): Promise<ClaimOutcome>;
  /** Stores the answer of the claim `token` holds; false (nothing stored) when the claim was lost. */
  complete(scope: string, key: string, token: string, answer: IdempotentAnswer): Promise<boolean>;
  /** Gives the key up (its request ended without a final answer, so a retry runs again); only the holder's claim. */
  release(scope: string, key: string, token: string): Promise<void>;
  /** Forgets the keys that expired at or before `now`; how many. */
  purgeExpired(now: Date): Promise<number>;
  close(): Promise<void>;
}

export const IDEMPOTENCY_STORE = Symbol('IdempotencyStore');
