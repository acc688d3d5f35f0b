import type Database from 'better-sqlite3';
import { openSqliteFile } from '../event-store/sqlite-file.js';
import type { ClaimOutcome, IdempotencyClaim, IdempotencyStore, IdempotentAnswer } from '../../application/ports/idempotency-store.port.js';
import { heldBy, mayTake, rowOf, type IdempotencyRow } from './idempotency-rows.js';

/** Schema steps of the idempotency table, recorded in `idempotency_schema` (the event store owns PRAGMA user_version). Append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE idempotency_keys (
     scope        TEXT    NOT NULL,
     key          TEXT    NOT NULL,
     fingerprint  TEXT    NOT NULL,
     token        TEXT    NOT NULL,
     expires_at   INTEGER NOT NULL,
     lease_until  INTEGER NOT NULL,
     status       INTEGER,
     content_type TEXT,
     body         TEXT,
     PRIMARY KEY (scope, key)
   ) STRICT;
   CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);`,
];

interface StoredRow {
  fingerprint: string;
  token: string;
  expires_at: number;
  lease_until: number;
  status: number | null;
  content_type: string | null;
  body: string | null;
}

/**
 * Idempotency keys in SQLite. In the service they live in the event store's own file, on its
 * connection, so they survive a restart exactly as the events do. better-sqlite3 runs each
 * transaction synchronously, so a claim (read, then insert or take over) is atomic.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  private readonly select: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly finish: Database.Statement;
  private readonly drop: Database.Statement;
  private readonly purge: Database.Statement;

  /** `owned`: close the connection on close() (not when it is the event store's). */
  constructor(
    private readonly db: Database.Database,
    private readonly owned = false,
  ) {
    migrate(db);
    this.select = db.prepare('SELECT fingerprint, token, expires_at, lease_until, status, content_type, body FROM idempotency_keys WHERE scope = ? AND key = ?');
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint, token, expires_at, lease_until, status, content_type, body)
       VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL)`,
    );
    this.finish = db.prepare(
      'UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? WHERE scope = ? AND key = ? AND token = ? AND status IS NULL',
    );
    this.drop = db.prepare('DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND token = ? AND status IS NULL');
    this.purge = db.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?');
  }

  /** A file of its own (EventStoreDB's instances keep their keys in DATA_DIR). */
  static open(file: string): SqliteIdempotencyStore {
    return openSqliteFile(file, (db) => new SqliteIdempotencyStore(db, true));
  }


  async claim(claim: IdempotencyClaim): Promise<ClaimOutcome> {
    return this.db
      .transaction((): ClaimOutcome => {
        const stored = this.select.get(claim.scope, claim.key) as StoredRow | undefined;
        const row = stored === undefined ? undefined : toRow(stored);
        if (!mayTake(row, claim)) return heldBy(row!);
        const { fingerprint, token, expiresAt, leaseUntil } = rowOf(claim);
        this.upsert.run(claim.scope, claim.key, fingerprint, token, expiresAt, leaseUntil);
        return { outcome: 'claimed' };
      })
      .immediate();
  }

  async complete(scope: string, key: string, token: string, answer: IdempotentAnswer): Promise<boolean> {
    return this.finish.run(answer.status, answer.contentType, answer.body, scope, key, token).changes > 0;
  }

  async release(scope: string, key: string, token: string): Promise<void> {
    this.drop.run(scope, key, token);
  }

  async purgeExpired(now: Date): Promise<number> {
    return this.purge.run(now.getTime()).changes;
  }

  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }
}

function toRow(stored: StoredRow): IdempotencyRow {
  const answer = stored.status === null ? null : { status: stored.status, contentType: stored.content_type ?? '', body: stored.body ?? '' };
  return { fingerprint: stored.fingerprint, token: stored.token, expiresAt: stored.expires_at, leaseUntil: stored.lease_until, answer };
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS idempotency_schema (version INTEGER PRIMARY KEY) STRICT');
    const version = (db.prepare('SELECT coalesce(max(version), 0) FROM idempotency_schema').pluck().get() as number) ?? 0;
    if (version > MIGRATIONS.length) throw new Error(`idempotency schema version ${version} is newer than this build knows (${MIGRATIONS.length})`);
    for (const [index, step] of MIGRATIONS.entries()) {
      if (index < version) continue;
      db.exec(step);
      db.prepare('INSERT INTO idempotency_schema (version) VALUES (?)').run(index + 1);
    }
  }).immediate();
}
