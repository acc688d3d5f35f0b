/**
 * One contract for every idempotency store adapter: a claim is atomic insert-if-absent, an answer
 * is kept exactly and per key space, a release or an expiry frees the key, a dead claim is taken
 * over only by the same request, and (for the durable ones) answers survive a reopen.
 */
import type { IdempotencyClaim, IdempotencyStore, IdempotentAnswer } from '../../src/application/ports/idempotency-store.port.js';

export interface StoreUnderTest {
  readonly store: IdempotencyStore;
  /** Closes `store` and opens it again on the same file or schema (durable adapters only). */
  readonly reopen?: () => Promise<IdempotencyStore>;
}

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const HOUR = 3600_000;
let tokens = 0;

function claimOf(overrides: Partial<IdempotencyClaim> & { at?: number } = {}): IdempotencyClaim {
  const at = overrides.at ?? T0;
  return {
    scope: 'merchant:shop-a',
    key: 'key-1',
    fingerprint: 'fp-1',
    token: `token-${++tokens}`,
    now: new Date(at),
    expiresAt: new Date(at + 24 * HOUR),
    leaseUntil: new Date(at + 60_000),
    ...overrides,
  };
}

const ANSWER: IdempotentAnswer = {
  status: 201,
  contentType: 'application/json; charset=utf-8',
  body: '{"orderId":"ord_1","description":"茶具 · tea set"}',
};

export function describeIdempotencyStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`idempotency store contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: IdempotencyStore;

    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });

    afterEach(async () => {
      await store.close();
    });

    it('claims an unknown key, and tells a second claim that the first is in flight', async () => {
      expect(await store.claim(claimOf())).toEqual({ outcome: 'claimed' });
      expect(await store.claim(claimOf({ fingerprint: 'fp-1' }))).toEqual({ outcome: 'in-flight', fingerprint: 'fp-1' });
      expect(await store.claim(claimOf({ fingerprint: 'fp-2' }))).toEqual({ outcome: 'in-flight', fingerprint: 'fp-1' });
    });

    it('keeps the answer exactly and gives it to every later claim with its fingerprint', async () => {
      const first = claimOf();
      await store.claim(first);
      expect(await store.complete(first.scope, first.key, first.token, ANSWER)).toBe(true);
      expect(await store.claim(claimOf({ at: T0 + 23 * HOUR }))).toEqual({ outcome: 'answered', fingerprint: 'fp-1', answer: ANSWER });
      expect(await store.claim(claimOf({ fingerprint: 'fp-2' }))).toEqual({ outcome: 'answered', fingerprint: 'fp-1', answer: ANSWER });
      // Completing twice changes nothing.
      expect(await store.complete(first.scope, first.key, first.token, { ...ANSWER, status: 500 })).toBe(false);
      expect(await store.claim(claimOf())).toMatchObject({ answer: ANSWER });
    });

    it('keeps each key space apart: the same key in two scopes is two keys', async () => {
      const a = claimOf({ scope: 'merchant:shop-a' });
      const b = claimOf({ scope: 'merchant:shop-b', fingerprint: 'fp-b' });
      expect(await store.claim(a)).toEqual({ outcome: 'claimed' });
      expect(await store.claim(b)).toEqual({ outcome: 'claimed' });
      await store.complete(a.scope, a.key, a.token, ANSWER);
      expect(await store.claim(claimOf({ scope: 'merchant:shop-b', fingerprint: 'fp-b' }))).toEqual({ outcome: 'in-flight', fingerprint: 'fp-b' });
      expect(await store.claim(claimOf({ scope: 'open' }))).toEqual({ outcome: 'claimed' });
    });

    it('frees a released key for the next claim; only the holder may release or complete', async () => {
      const first = claimOf();
      await store.claim(first);
      await store.release(first.scope, first.key, 'not-the-token');
      expect(await store.complete(first.scope, first.key, 'not-the-token', ANSWER)).toBe(false);
      expect(await store.claim(claimOf())).toEqual({ outcome: 'in-flight', fingerprint: 'fp-1' });
      await store.release(first.scope, first.key, first.token);
      const second = claimOf({ fingerprint: 'fp-2' });
      expect(await store.claim(second)).toEqual({ outcome: 'claimed' });
      expect(await store.complete(first.scope, first.key, first.token, ANSWER)).toBe(false);
      expect(await store.complete(second.scope, second.key, second.token, { ...ANSWER, status: 422 })).toBe(true);
      // A stored answer is never released.
      await store.release(second.scope, second.key, second.token);
      expect(await store.claim(claimOf())).toMatchObject({ outcome: 'answered', answer: { status: 422 } });
    });

    it('forgets a key once it expired: a claim at or after expiresAt takes it, whatever it held', async () => {
      const first = claimOf();
      await store.claim(first);
      await store.complete(first.scope, first.key, first.token, ANSWER);
      expect(await store.claim(claimOf({ at: T0 + 24 * HOUR - 1, fingerprint: 'fp-2' }))).toMatchObject({ outcome: 'answered' });
      expect(await store.claim(claimOf({ at: T0 + 24 * HOUR, fingerprint: 'fp-2' }))).toEqual({ outcome: 'claimed' });
      expect(await store.claim(claimOf({ at: T0 + 24 * HOUR }))).toEqual({ outcome: 'in-flight', fingerprint: 'fp-2' });
    });

    it('lets the same request take over a claim whose lease ran out, never another request', async () => {
      const dead = claimOf();
      await store.claim(dead);
      expect(await store.claim(claimOf({ at: T0 + 59_999 }))).toEqual({ outcome: 'in-flight', fingerprint: 'fp-1' });
      expect(await store.claim(claimOf({ at: T0 + 60_000, fingerprint: 'fp-2' }))).toEqual({ outcome: 'in-flight', fingerprint: 'fp-1' });
      const retry = claimOf({ at: T0 + 60_000 });
      expect(await store.claim(retry)).toEqual({ outcome: 'claimed' });
      // The dead claim's late answer is not stored over the retry's.
      expect(await store.complete(dead.scope, dead.key, dead.token, { ...ANSWER, body: '{"late":true}' })).toBe(false);
      expect(await store.complete(retry.scope, retry.key, retry.token, ANSWER)).toBe(true);
      expect(await store.claim(claimOf({ at: T0 + 61_000 }))).toMatchObject({ answer: ANSWER });
    });

    it('gives a key to exactly one of many concurrent claims', async () => {
      const claims = Array.from({ length: 20 }, (_, i) => claimOf({ key: 'raced', fingerprint: `fp-${i % 2}` }));
      const outcomes = await Promise.all(claims.map((claim) => store.claim(claim)));
      expect(outcomes.filter((outcome) => outcome.outcome === 'claimed')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.outcome === 'in-flight')).toHaveLength(19);
    });

    it('deletes the expired keys, and only those', async () => {
      for (const [key, at] of [['old-1', T0], ['old-2', T0 + HOUR], ['new', T0 + 2 * HOUR]] as const) {
        const claim = claimOf({ key, at });
        await store.claim(claim);
        await store.complete(claim.scope, claim.key, claim.token, ANSWER);
      }
      expect(await store.purgeExpired(new Date(T0 + 25 * HOUR))).toBe(2);
      expect(await store.purgeExpired(new Date(T0 + 25 * HOUR))).toBe(0);
      // Read before its own expiry: still the answer; a purged key is simply free.
      expect(await store.claim(claimOf({ key: 'new', at: T0 + 25 * HOUR }))).toMatchObject({ outcome: 'answered' });
      expect(await store.claim(claimOf({ key: 'old-1', at: T0 + 25 * HOUR }))).toEqual({ outcome: 'claimed' });
    });

    it('keeps answers and claims across a reopen (durable adapters)', async () => {
      if (subject.reopen === undefined) {
        expect(name).toBe('memory');
        return;
      }
      const answered = claimOf({ key: 'answered' });
      await store.claim(answered);
      await store.complete(answered.scope, answered.key, answered.token, ANSWER);
      await store.claim(claimOf({ key: 'running', fingerprint: 'fp-r' }));
      store = await subject.reopen();
      expect(await store.claim(claimOf({ key: 'answered', at: T0 + HOUR }))).toEqual({ outcome: 'answered', fingerprint: 'fp-1', answer: ANSWER });
      expect(await store.claim(claimOf({ key: 'running', at: T0 + 1000, fingerprint: 'fp-r' }))).toEqual({ outcome: 'in-flight', fingerprint: 'fp-r' });
    });
  });
}
