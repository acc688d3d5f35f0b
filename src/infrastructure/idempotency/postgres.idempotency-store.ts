import { escapeIdentifier, Pool } from 'pg';
import type { ClaimOutcome, IdempotencyClaim, IdempotencyStore, IdempotentAnswer } from '../../application/ports/idempotency-store.port.js';
import { openPostgresTables, type PostgresTablesOptions } from '../event-store/postgres-tables.js';
import { heldBy, type IdempotencyRow } from './idempotency-rows.js';

export type PostgresIdempotencyStoreOptions = PostgresTablesOptions;

/** Schema steps of the idempotency table, recorded in `idempotency_schema`. Append only. `S`: the quoted schema. */
const MIGRATIONS: readonly ((S: string) => string)[] = [
  (S) => `
    CREATE TABLE ${S}.idempotency_keys (
      scope        text    COLLATE "C" NOT NULL,
      key          text    COLLATE "C" NOT NULL,
      fingerprint  text    NOT NULL,
      token        text    NOT NULL,
      expires_at   bigint  NOT NULL,
      lease_until  bigint  NOT NULL,
      status       integer,
      content_type text,
      body         text,
      PRIMARY KEY (scope, key)
    );
    CREATE INDEX idempotency_keys_by_expiry ON ${S}.idempotency_keys (expires_at);`,
];

/** First key of the advisory lock taken while migrating (the second is the schema's hash). */
const MIGRATION_LOCK = 0x50474931;

interface StoredRow {
  fingerprint: string;
  token: string;
  expires_at: string;
  lease_until: string;
  status: number | null;
  content_type: string | null;
  body: string | null;
}

/**
 * Idempotency keys in PostgreSQL, in the event store's schema, so every instance on that schema
 * shares them. A claim is one INSERT ... ON CONFLICT DO UPDATE ... WHERE: PostgreSQL locks the
 * conflicting row and checks the condition on its latest version, so of concurrent claims exactly
 * one takes the key, whichever instance they reach.
 */
export class PostgresIdempotencyStore implements IdempotencyStore {
  private readonly sql: ReturnType<typeof statements>;

  private constructor(
    private readonly pool: Pool,
    readonly schema: string,
  ) {
    this.sql = statements(escapeIdentifier(schema));
  }

  /** Connects and creates the table when missing (the schema must exist or be creatable). */
  static async open(options: PostgresIdempotencyStoreOptions): Promise<PostgresIdempotencyStore> {
    const pool = await openPostgresTables(options, { name: 'idempotency', lock: MIGRATION_LOCK, steps: MIGRATIONS });
    return new PostgresIdempotencyStore(pool, options.schema);
  }


  async claim(claim: IdempotencyClaim): Promise<ClaimOutcome> {
    const now = claim.now.getTime();
    const params = [claim.scope, claim.key, claim.fingerprint, claim.token, claim.expiresAt.getTime(), claim.leaseUntil.getTime(), now];
    // A key released between the refused claim and the read is claimed again: a released key is free.
    for (let attempt = 0; attempt < 3; attempt++) {
      const taken = await this.pool.query(this.sql.claim, params);
      if ((taken.rowCount ?? 0) > 0) return { outcome: 'claimed' };
      const { rows } = await this.pool.query<StoredRow>(this.sql.select, [claim.scope, claim.key]);
      if (rows.length > 0) return heldBy(toRow(rows[0]));
    }
    throw new Error(`idempotency key claim kept losing to releases (scope ${claim.scope})`);
  }

  async complete(scope: string, key: string, token: string, answer: IdempotentAnswer): Promise<boolean> {
    const result = await this.pool.query(this.sql.complete, [answer.status, answer.contentType, answer.body, scope, key, token]);
    return (result.rowCount ?? 0) > 0;
  }

  async release(scope: string, key: string, token: string): Promise<void> {
    await this.pool.query(this.sql.release, [scope, key, token]);
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.pool.query(this.sql.purge, [now.getTime()])).rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

function statements(S: string) {
  const table = `${S}.idempotency_keys`;
  return {
    // Taken when unknown, expired, or held by a dead claim (lease over, no answer) of the same request: see mayTake.
    claim: `
      INSERT INTO ${table} AS k (scope, key, fingerprint, token, expires_at, lease_until)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (scope, key) DO UPDATE
        SET fingerprint = excluded.fingerprint, token = excluded.token, expires_at = excluded.expires_at,
            lease_until = excluded.lease_until, status = NULL, content_type = NULL, body = NULL
        WHERE k.expires_at <= $7
           OR (k.status IS NULL AND k.lease_until <= $7 AND k.fingerprint = excluded.fingerprint)`,
    select: `SELECT fingerprint, token, expires_at, lease_until, status, content_type, body FROM ${table} WHERE scope = $1 AND key = $2`,
    complete: `UPDATE ${table} SET status = $1, content_type = $2, body = $3 WHERE scope = $4 AND key = $5 AND token = $6 AND status IS NULL`,
    release: `DELETE FROM ${table} WHERE scope = $1 AND key = $2 AND token = $3 AND status IS NULL`,
    purge: `DELETE FROM ${table} WHERE expires_at <= $1`,
  };
}

function toRow(stored: StoredRow): IdempotencyRow {
  const answer = stored.status === null ? null : { status: stored.status, contentType: stored.content_type ?? '', body: stored.body ?? '' };
  return { fingerprint: stored.fingerprint, token: stored.token, expiresAt: Number(stored.expires_at), leaseUntil: Number(stored.lease_until), answer };
}
