import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Who holds a DATA_DIR, as its lock's holder file says. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

/** A second Payguard on a DATA_DIR that another one holds. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | null,
  ) {
    const who =
      holder === null
        ? 'another process (its pid, host and start time could not be read)'
        : `another Payguard: pid ${holder.pid} on host ${holder.host}, started ${holder.startedAt}`;
    super(
      `DATA_DIR ${dataDir} is in use by ${who}. One instance per DATA_DIR: stop that one first, or give this one a DATA_DIR of its own (or use EVENT_STORE=postgres to run several).`,
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'payguard.lock';
const HOLDER_FILE = 'payguard.lock.json';

/**
 * The embedded store's exclusive hold on DATA_DIR, so that two instances never run one SQLite
 * log (each would run the process manager, refunds and deadlines: two of everything).
 *
 * The lock is the operating system's (SQLite's own file lock, in EXCLUSIVE locking mode, on
 * DATA_DIR/payguard.lock), not a file whose presence means "locked": the kernel drops it when the
 * holder dies, so a kill -9 never blocks a restart, and no pid has to be judged alive (a pid means
 * nothing on another host, and in a container the new process is pid 1 like the dead one).
 * Beside it, DATA_DIR/payguard.lock.json names the holder (pid, host, start time) for the message
 * a second instance gives. Never delete payguard.lock while an instance runs: a new file would be
 * a new lock.
 */
export class DataDirLock {
  private released = false;

  private constructor(
    private readonly db: Database.Database,
    private readonly holderFile: string,
    readonly holder: LockHolder,
  ) {}

  /** Takes the lock, or throws DataDirInUseError naming the holder. */
  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    // timeout 0: a held lock answers SQLITE_BUSY at once instead of after better-sqlite3's 5 s.
    const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock, and EXCLUSIVE mode keeps it until the connection closes.
      db.pragma(`user_version = ${process.pid}`);
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir, readHolder(join(dataDir, HOLDER_FILE)));
      throw error;
    }
    const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    const holderFile = join(dataDir, HOLDER_FILE);
    try {
      // Written whole or not at all (rename), so a second instance never reads half of it.
      const temporary = `${holderFile}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(holder)}\n`);
      renameSync(temporary, holderFile);
    } catch (error) {
      db.close();
      throw error;
    }
    return new DataDirLock(db, holderFile, holder);
  }

  /** Lets the next instance in; idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    // The holder file first: once the lock is released another instance may write its own.
    const current = readHolder(this.holderFile);
    if (current?.pid === this.holder.pid && current.startedAt === this.holder.startedAt) rmSync(this.holderFile, { force: true });
    this.db.close();
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.startedAt !== 'string') return null;
    return { pid: parsed.pid, host: parsed.host, startedAt: parsed.startedAt };
  } catch {
    return null;
  }
}
