/**
 * The embedded store is safe to deploy: one instance per DATA_DIR (a second one is refused, a
 * killed one does not block a restart), a damaged file is refused at start-up, and readiness is
 * a real write and read that turns false on any write failure the service sees. Damage is made
 * as a disk would make it: garbage written over pages of a real payguard.db.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EventStore, KeyedCheckpointStore, NewEvent } from '../../src/application/ports/event-store.port.js';
import { ConcurrencyError } from '../../src/application/ports/event-store.port.js';
import { DataDirInUseError, DataDirLock } from '../../src/infrastructure/event-store/data-dir-lock.js';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { openSqliteForService, StoreCorruptError } from '../../src/infrastructure/event-store/open-service-store.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { checkSqliteFile } from '../../src/infrastructure/event-store/sqlite-integrity.js';
import { StoreHealth } from '../../src/infrastructure/event-store/store-health.js';
import { expectProblem } from '../support/contract.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';
import { MAIN, ROOT, ensureBuilt, spawnService, type ServiceProcess } from '../support/processes.js';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'payguard-health-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const quietLogger = () => {
  const lines: string[] = [];
  return { lines, warn: (message: string) => void lines.push(message) };
};

function event(type: string, data: Record<string, unknown>): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: { occurredAt: new Date().toISOString(), correlationId: 'health-test', causationId: null, schemaVersion: 2 },
  };
}

/** A real payguard.db with some history: enough rows that the events table and its indexes span many pages. */
async function storeWithHistory(dir: string, orders = 300): Promise<string> {
  const file = join(dir, 'payguard.db');
  const store = new SqliteEventStore({ file });
  for (let i = 0; i < orders; i++) {
    await store.append(`order-o${i}`, [event('OrderPlaced', { orderId: `o${i}`, amount: 100 + i, currency: 'CNY', description: 'x'.repeat(200) })], 'no-stream');
  }
  await store.close();
  return file;
}

/** The pages holding these tables and indexes (SQLite's dbstat), read on a connection of the test's own. */
function pagesOf(file: string, names: readonly string[]): number[] {
  const db = new Database(file, { readonly: true });
  try {
    const placeholders = names.map(() => '?').join(', ');
    return (db.prepare(`SELECT pageno FROM dbstat WHERE name IN (${placeholders}) ORDER BY pageno`).pluck().all(...names) as number[]).filter((page) => page > 1);
  } finally {
    db.close();
  }
}

/** What a failing disk does: other bytes where these pages were (a fixed pattern, so runs agree). */
function writeGarbageOverPages(file: string, pages: readonly number[], pageSize = 4096): void {
  const garbage = Buffer.alloc(pageSize);
  let seed = 0x2545f491;
  for (let i = 0; i < pageSize; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    garbage[i] = seed >>> 24;
  }
  const fd = openSync(file, 'r+');
  try {
    for (const page of pages) writeSync(fd, garbage, 0, pageSize, (page - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
}

const EVENT_PAGES = ['events', 'sqlite_autoindex_events_1', 'sqlite_autoindex_events_2'];

describe('the DATA_DIR lock', () => {
  it('refuses a second holder, naming the first (pid, host, start time), and lets the next one in once released', () => {
    const dir = freshDir();
    const first = DataDirLock.acquire(dir);

    let refusal: unknown;
    try {
      DataDirLock.acquire(dir);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(DataDirInUseError);
    expect((refusal as DataDirInUseError).holder).toEqual({ pid: process.pid, host: hostname(), startedAt: first.holder.startedAt });
    expect((refusal as Error).message).toContain(`pid ${process.pid} on host ${hostname()}, started ${first.holder.startedAt}`);

    first.release();
    expect(existsSync(join(dir, 'payguard.lock.json'))).toBe(false);
    const next = DataDirLock.acquire(dir);
    expect(JSON.parse(readFileSync(join(dir, 'payguard.lock.json'), 'utf8'))).toEqual(next.holder);
    next.release();
  });

  it('is released when the store closes', async () => {
    const dir = freshDir();
    const store = await openSqliteForService(dir, 5_000, quietLogger());
    expect(() => DataDirLock.acquire(dir)).toThrow(DataDirInUseError);
    await store.close();
    DataDirLock.acquire(dir).release();
  });

  describe('between real processes', () => {
    const started: ServiceProcess[] = [];
    beforeAll(() => ensureBuilt(), 180_000);
    afterAll(async () => {
      await Promise.all(started.map((service) => service.kill()));
    });

    /** `npm start`'s entry on `dataDir`, to its exit: what it printed and its exit code. */
    function runToExit(dataDir: string): Promise<{ code: number | null; output: string }> {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: { ...process.env, PORT: '0', DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', (code) => {
          clearTimeout(killer);
          resolve({ code, output });
        });
      });
    }

    it('a second instance on the same DATA_DIR exits 1 naming the first; once the first is killed with SIGKILL, a new one starts', async () => {
      const dataDir = freshDir();
      const first = await spawnService('first', MAIN, { DATA_DIR: dataDir, EVENT_STORE: 'sqlite' });
      started.push(first);

      const second = await runToExit(dataDir);
      expect(second.code).toBe(1);
      expect(second.output).toContain(`DATA_DIR ${dataDir} is in use by another Payguard: pid ${first.child.pid} on host ${hostname()}, started `);

      await first.kill('SIGKILL');
      const third = await spawnService('third', MAIN, { DATA_DIR: dataDir, EVENT_STORE: 'sqlite' });
      started.push(third);
      expect((await fetch(`${third.url}/health/ready`)).status).toBe(200);
      expect(JSON.parse(readFileSync(join(dataDir, 'payguard.lock.json'), 'utf8'))).toMatchObject({ pid: third.child.pid, host: hostname() });
    }, 60_000);

    it('refuses to start on a damaged file: exit 1, saying what quick_check found', async () => {
      const dataDir = freshDir();
      const file = await storeWithHistory(dataDir);
      writeGarbageOverPages(file, pagesOf(file, EVENT_PAGES).filter((_, index) => index % 3 === 0));

      const run = await runToExit(dataDir);

      expect(run.code).toBe(1);
      expect(run.output).toMatch(/Payguard could not start: the event store \S+payguard\.db is damaged \(PRAGMA quick_check: .+\)/);
      expect(run.output).toContain('restore DATA_DIR from a backup');
    }, 30_000);
  });
});

describe('the start-up integrity check', () => {
  it('passes a healthy file, and a missing one (a first start)', async () => {
    const dir = freshDir();
    expect(await checkSqliteFile(join(dir, 'payguard.db'), 5_000)).toEqual({ status: 'absent' });
    const file = await storeWithHistory(dir, 50);
    expect(await checkSqliteFile(file, 5_000)).toMatchObject({ status: 'ok' });
  });

  it('finds garbage over table and index pages, and the service store refuses the file (and releases DATA_DIR)', async () => {
    const dir = freshDir();
    const file = await storeWithHistory(dir);
    const pages = pagesOf(file, EVENT_PAGES);
    expect(pages.length).toBeGreaterThan(10);
    writeGarbageOverPages(file, pages.filter((_, index) => index % 4 === 1));

    const check = await checkSqliteFile(file, 5_000);
    expect(check.status).toBe('corrupt');

    const opening = openSqliteForService(dir, 5_000, quietLogger());
    await expect(opening).rejects.toBeInstanceOf(StoreCorruptError);
    await expect(opening).rejects.toThrow(/is damaged \(PRAGMA quick_check: .*(Tree|page|malformed|corrupt).*\)/i);
    DataDirLock.acquire(dir).release();
  });

  it('finds garbage over the first page (the header) too', async () => {
    const dir = freshDir();
    const file = await storeWithHistory(dir, 20);
    writeGarbageOverPages(file, [1]);

    const check = await checkSqliteFile(file, 5_000);

    expect(check).toMatchObject({ status: 'corrupt', problems: [expect.stringMatching(/SQLITE_NOTADB|not a database/)] });
  });

  it('is cut short when it takes longer than its budget, and the store starts all the same, saying so', async () => {
    const dir = freshDir();
    await storeWithHistory(dir, 20);
    const logger = quietLogger();

    const store = await openSqliteForService(dir, 1, logger);
    await store.close();

    expect(logger.lines).toEqual([expect.stringMatching(/integrity check \(PRAGMA quick_check\) of \S+ cut short after \d+ ms \(STORE_CHECK_BUDGET_MS=1\)/)]);
  });
});

describe('a SQLite store whose disk is full', () => {
  it('fails every write of the group commit with the cause (SQLITE_FULL), and writes none of them', async () => {
    const dir = freshDir();
    const store = new SqliteEventStore({ file: join(dir, 'payguard.db') });
    try {
      await store.append('order-before', [event('OrderPlaced', { orderId: 'before' })], 'no-stream');
      store.database.pragma(`max_page_count = ${store.database.pragma('page_count', { simple: true }) as number}`);
      // Two appends in one turn of the event loop share a transaction; the large one needs pages the file may not get.
      const small = store.append('order-small', [event('OrderPlaced', { orderId: 'small' })], 'no-stream');
      const large = store.append('order-large', [event('OrderPlaced', { orderId: 'large', description: 'y'.repeat(50_000) })], 'no-stream');
      const outcomes = await Promise.allSettled([small, large]);

      // SQLite rolled the whole transaction back: the small append is refused with the cause too, not "no transaction is active".
      expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as { code?: string }).code : 'written'))).toEqual(['SQLITE_FULL', 'SQLITE_FULL']);
      expect(await store.headPosition()).toBe(1);
      store.database.pragma('max_page_count = 1073741823');
      await store.append('order-small', [event('OrderPlaced', { orderId: 'small' })], 'no-stream');
      expect((await store.readAll(0, 10)).map((recorded) => recorded.streamName)).toEqual(['order-before', 'order-small']);
    } finally {
      await store.close();
    }
  });
});

describe('readiness of the store', () => {
  type Store = EventStore & KeyedCheckpointStore;

  it('is a real write and read of a probe row', async () => {
    const store = new MemoryEventStore();
    const health = new StoreHealth(store);

    expect(await health.status()).toEqual({ ok: true });
    expect(await store.load('health-probe')).toMatchObject({ state: { token: expect.any(String) } });
  });

  it('is false when the probe does not finish within its budget', async () => {
    const store = new MemoryEventStore();
    const hanging: Store = Object.assign(Object.create(store) as Store, { save: () => new Promise<void>(() => undefined) });
    const health = new StoreHealth(hanging, { probeBudgetMs: 50 });

    expect(await health.status()).toEqual({ ok: false, reason: 'write probe did not finish within 50 ms' });
  });

  it('does not count a refusal (a concurrency conflict) as a failure', async () => {
    const store = new MemoryEventStore();
    const health = new StoreHealth(store);
    const watched = health.watch(store);
    await watched.append('order-a', [event('OrderPlaced', { orderId: 'a' })], 'no-stream');

    await expect(watched.append('order-a', [event('OrderPlaced', { orderId: 'a' })], 'no-stream')).rejects.toBeInstanceOf(ConcurrencyError);

    expect(await health.status()).toEqual({ ok: true });
  });

  it('turns false on a failed append (SQLITE_FULL), with the reason, until a later probe succeeds', async () => {
    const dir = freshDir();
    const store = new SqliteEventStore({ file: join(dir, 'payguard.db') });
    try {
      const health = new StoreHealth(store, { failureHoldMs: 300 });
      const watched = health.watch(store);
      // The file may not grow: the next append that needs a page fails as on a full disk.
      store.database.pragma(`max_page_count = ${store.database.pragma('page_count', { simple: true }) as number}`);
      let failure: unknown;
      for (let i = 0; i < 100 && failure === undefined; i++) {
        await watched.append(`order-f${i}`, [event('OrderPlaced', { orderId: `f${i}`, description: 'y'.repeat(2000) })], 'no-stream').catch((error: unknown) => (failure = error));
      }
      expect((failure as { code?: string }).code).toBe('SQLITE_FULL');

      const status = await health.status();
      expect(status).toEqual({ ok: false, reason: expect.stringMatching(/^(append failed at \S+|write probe failed): SQLITE_FULL: database or disk is full/) });

      store.database.pragma('max_page_count = 1073741823');
      await eventually(() => health.status(), (answer) => answer.ok, 5_000, 'ready again');
    } finally {
      await store.close();
    }
  });

  it('after a corruption error, stays false while PRAGMA quick_check finds damage, and says what it found', async () => {
    const dir = freshDir();
    const file = await storeWithHistory(dir);
    writeGarbageOverPages(file, pagesOf(file, EVENT_PAGES));
    const store = new SqliteEventStore({ file });
    try {
      const health = new StoreHealth(store, { failureHoldMs: 0 });
      const watched = health.watch(store);

      await expect(watched.readStream('order-o7')).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_CORRUPT/) });

      const found = await eventually(() => health.status(), (answer) => !answer.ok && /quick_check: /.test(answer.reason), 10_000, 'integrity check done');
      expect(found).toEqual({ ok: false, reason: expect.stringMatching(/^read failed at \S+: SQLITE_CORRUPT\S*: database disk image is malformed; PRAGMA quick_check: /) });
      // The probe row lives elsewhere and still works: the failure, not the probe, keeps it false.
      expect(await health.status()).toMatchObject({ ok: false });
    } finally {
      await store.close();
    }
  });
});

describe('GET /health/ready over HTTP', () => {
  let app: TestApp;
  afterEach(async () => {
    await app?.close().catch(() => undefined);
  });

  const placeOrders = async (prefix: string, count: number) => {
    for (let i = 0; i < count; i++) {
      const answer = await app.request('POST', '/orders', { orderId: `${prefix}-${i}`, amount: 100 + i, currency: 'CNY', description: 'z'.repeat(200) });
      if (answer.status !== 201) return answer;
    }
    return null;
  };

  it('answers 503 not-ready with the reason once an append fails on a full store, and 200 again once writes work', async () => {
    app = await startTestApp();
    expect((await app.request('GET', '/health/ready')).status).toBe(200);
    const db = (app.running.store as SqliteEventStore).database;
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);

    const refused = await placeOrders('full', 200);
    expect(refused?.status).toBe(500);

    const ready = await app.request('GET', '/health/ready');
    expectProblem(ready, 503, 'not-ready');
    expect(ready.body.detail).toMatch(/^event store: (append|checkpoint write) failed at \S+: SQLITE_FULL: database or disk is full/);

    db.pragma('max_page_count = 1073741823');
    await eventually(() => app.request('GET', '/health/ready'), (answer) => answer.status === 200, 15_000, 'ready again');
    expect((await app.request('POST', '/orders', { orderId: 'after-full', amount: 100, currency: 'CNY' })).status).toBe(201);
  }, 30_000);

  it('answers 503 not-ready, naming the corruption and what quick_check found, when pages of a live payguard.db go bad', async () => {
    const dataDir = freshDir();
    app = await startTestApp({}, { keepDataDir: dataDir });
    expect(await placeOrders('live', 150)).toBeNull();
    await app.settle();
    const file = join(dataDir, 'payguard.db');
    const db = (app.running.store as SqliteEventStore).database;
    db.pragma('wal_checkpoint(TRUNCATE)');

    writeGarbageOverPages(file, pagesOf(file, EVENT_PAGES));
    // Another connection's commit makes the service's connection drop its page cache and read the disk again.
    const other = new Database(file);
    other.prepare("INSERT INTO checkpoints (name, position, state) VALUES ('test-cache-turnover', 0, 'null')").run();
    other.close();

    const refused = await app.request('POST', '/orders', { orderId: 'on-bad-pages', amount: 100, currency: 'CNY' });
    expectProblem(refused, 500, 'internal');

    const ready = await app.request('GET', '/health/ready');
    expectProblem(ready, 503, 'not-ready');
    expect(ready.body.detail).toMatch(/SQLITE_CORRUPT\S*: database disk image is malformed/);
    const found = await eventually(() => app.request('GET', '/health/ready'), (answer) => /quick_check: /.test(answer.body?.detail ?? ''), 15_000, 'integrity check reported');
    expectProblem(found, 503, 'not-ready');
  }, 30_000);
});
