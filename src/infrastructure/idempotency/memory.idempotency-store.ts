import type { ClaimOutcome, IdempotencyClaim, IdempotencyStore, IdempotentAnswer } from '../../application/ports/idempotency-store.port.js';
import { heldBy, mayTake, rowOf, type IdempotencyRow } from './idempotency-rows.js';

/** For EVENT_STORE=memory and tests: nothing survives a restart (neither do the events). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly rows = new Map<string, IdempotencyRow>();

  async claim(claim: IdempotencyClaim): Promise<ClaimOutcome> {
    const id = rowId(claim.scope, claim.key);
    const row = this.rows.get(id);
    if (!mayTake(row, claim)) return heldBy(row!);
    this.rows.set(id, rowOf(claim));
    return { outcome: 'claimed' };
  }

  async complete(scope: string, key: string, token: string, answer: IdempotentAnswer): Promise<boolean> {
    const id = rowId(scope, key);
    const row = this.rows.get(id);
    if (row === undefined || row.token !== token || row.answer !== null) return false;
    this.rows.set(id, { ...row, answer: { ...answer } });
    return true;
  }

  async release(scope: string, key: string, token: string): Promise<void> {
    const id = rowId(scope, key);
    const row = this.rows.get(id);
    if (row !== undefined && row.token === token && row.answer === null) this.rows.delete(id);
  }

  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const [id, row] of this.rows) {
      if (row.expiresAt > now.getTime()) continue;
      this.rows.delete(id);
      purged++;
    }
    return purged;
  }

  async close(): Promise<void> {}
}

/** Scope and key joined by a character neither may hold (a key is printable ASCII). */
function rowId(scope: string, key: string): string {
  return `${scope}\n${key}`;
}
