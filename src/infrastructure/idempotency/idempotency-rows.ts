import type { ClaimOutcome, IdempotencyClaim, IdempotentAnswer } from '../../application/ports/idempotency-store.port.js';

/** One key as the stores keep it; times in epoch milliseconds. `answer` is null while its request runs. */
export interface IdempotencyRow {
  readonly fingerprint: string;
  readonly token: string;
  readonly expiresAt: number;
  readonly leaseUntil: number;
  readonly answer: IdempotentAnswer | null;
}

/**
 * Whether `claim` may take a key held by `row`: an unknown or expired key, or one whose request
 * died holding it (its lease ran out) when the same request comes again. Another request on a
 * dead claim is still a conflict: the first one may have run.
 */
export function mayTake(row: IdempotencyRow | undefined, claim: IdempotencyClaim): boolean {
  if (row === undefined) return true;
  const now = claim.now.getTime();
  if (row.expiresAt <= now) return true;
  return row.answer === null && row.leaseUntil <= now && row.fingerprint === claim.fingerprint;
}

export function rowOf(claim: IdempotencyClaim): IdempotencyRow {
  return { fingerprint: claim.fingerprint, token: claim.token, expiresAt: claim.expiresAt.getTime(), leaseUntil: claim.leaseUntil.getTime(), answer: null };
}

/** What a key that `claim` could not take says to it. */
export function heldBy(row: IdempotencyRow): ClaimOutcome {
  return row.answer === null
    ? { outcome: 'in-flight', fingerprint: row.fingerprint }
    : { outcome: 'answered', fingerprint: row.fingerprint, answer: row.answer };
}
