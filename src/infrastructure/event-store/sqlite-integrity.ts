import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** What `PRAGMA quick_check` said about a SQLite file, or why it said nothing. */
export type IntegrityCheck =
  | { readonly status: 'ok'; readonly ms: number }
  /** Damaged: the first problems SQLite names (at most 20). */
  | { readonly status: 'corrupt'; readonly problems: readonly string[]; readonly ms: number }
  /** Not done within the budget: the check was stopped, nothing is known. */
  | { readonly status: 'cut-short'; readonly ms: number }
  /** The check could not run (the file busy, unreadable, the checker crashed): nothing is known. */
  | { readonly status: 'unchecked'; readonly reason: string; readonly ms: number }
  | { readonly status: 'absent' };

/** SQLite's answers that mean the file itself is damaged (SQLITE_CORRUPT and its extended codes, SQLITE_NOTADB). */
export function isCorruption(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB';
}

/**
 * Runs in a child process: better-sqlite3 blocks the thread it runs on, and neither a timer nor a
 * worker thread can stop a long native call (Node waits for a worker's native call to return
 * even when it exits), while a child process can simply be killed.
 */
const CHECKER = `
const Database = require(process.argv[1]);
let answer;
try {
  const db = new Database(process.argv[2], { fileMustExist: true, timeout: 5000 });
  try {
    answer = { rows: db.pragma('quick_check(20)').map((row) => String(Object.values(row)[0])) };
  } finally {
    db.close();
  }
} catch (error) {
  answer = { code: String(error.code || ''), message: String(error.message) };
}
process.stdout.write(JSON.stringify(answer));
`;

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

/** `PRAGMA quick_check` of `file` (the whole file: every table and index), stopped after `budgetMs`. */
export function checkSqliteFile(file: string, budgetMs: number): Promise<IntegrityCheck> {
  if (file === ':memory:' || !existsSync(file)) return Promise.resolve({ status: 'absent' });
  const started = Date.now();
  const env = { ...process.env };
  // Nothing of the parent's node options (an --inspect port, test flags) in the checker.
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', CHECKER, BETTER_SQLITE3, file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let settled = false;
    const settle = (check: IntegrityCheck): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(check);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle({ status: 'cut-short', ms: Date.now() - started });
    }, budgetMs);
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', (error) => settle({ status: 'unchecked', reason: error.message, ms: Date.now() - started }));
    child.on('close', (code, signal) => {
      const ms = Date.now() - started;
      let answer: { rows?: string[]; code?: string; message?: string };
      try {
        answer = JSON.parse(out) as typeof answer;
      } catch {
        return settle({ status: 'unchecked', reason: `the checker ended (${signal ?? code}) without an answer: ${err.trim().slice(0, 500)}`, ms });
      }
      if (answer.rows !== undefined) {
        const ok = answer.rows.length === 1 && answer.rows[0] === 'ok';
        // One problem a line (SQLite puts several in one row), without its "*** in database main ***" heading.
        const problems = answer.rows.flatMap((row) => row.split('\n')).filter((line) => line.trim() !== '' && !line.startsWith('*** in database'));
        return settle(ok ? { status: 'ok', ms } : { status: 'corrupt', problems, ms });
      }
      if (isCorruption(answer)) return settle({ status: 'corrupt', problems: [`${answer.code}: ${answer.message}`], ms });
      settle({ status: 'unchecked', reason: `${answer.code}: ${answer.message}`, ms });
    });
  });
}
