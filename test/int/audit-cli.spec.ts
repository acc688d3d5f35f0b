import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Invariant } from '../../src/application/audit/ledger-verifier.js';
import { runAuditCli } from '../../src/infrastructure/cli/audit-cli.js';
import type { CliIo } from '../../src/infrastructure/cli/cli-io.js';
import { PostgresEventStore } from '../../src/infrastructure/event-store/postgres.event-store.js';
import { appendInOrder, fixtureText, readFixture, writeRawSqlite } from '../support/fixture-store.js';
import { DATABASE_URL, dropSchema, postgresUnreachable } from '../support/postgres.js';
import { ensureBuilt, ROOT } from '../support/processes.js';

/** What one run of the CLI printed, and its exit code. */
interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  lines(): any[];
}

async function payguard(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: async (text) => void (out += text),
    err: (text) => void (err += text),
  };
  const code = await runAuditCli(argv, { EVENT_STORE: 'sqlite' }, io);
  return { code, out, err, lines: () => out.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)) };
}

const dirs: string[] = [];
/** A data directory holding `fixture` as its event store, written exactly as the file says. */
async function dataDirWith(fixture: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'payguard-audit-'));
  dirs.push(dir);
  await writeRawSqlite(dir, readFixture(fixture));
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('payguard export', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await dataDirWith('audit/valid');
  });

  it('prints the whole log as NDJSON, one event a line, in commit order, as stored with --raw', async () => {
    const run = await payguard('export', '--raw', '--data-dir', dir);

    expect(run.code).toBe(0);
    expect(run.out).toBe(fixtureText('audit/valid'));
  });

  it('prints the data of older schema versions in the current shape, keeping the version it was written in', async () => {
    const run = await payguard('export', '--data-dir', dir);
    const stored = fixtureText('audit/valid').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));

    expect(run.code).toBe(0);
    const lines = run.lines();
    expect(lines.map((event) => event.eventId)).toEqual(stored.map((event) => event.eventId));
    expect(lines.filter((event) => event.type === 'RefundFailed').map((event) => event.data.final)).toEqual([false]);
    for (const event of lines.filter((line) => line.type === 'RefundSucceeded')) {
      expect(event.data.requestedAmount).toBe(event.data.amount);
      expect(event.metadata.schemaVersion).toBe(1);
    }
  });

  it('starts after a position', async () => {
    const run = await payguard('export', '--data-dir', dir, '--after', '25');

    expect(run.lines().map((event) => event.position)).toEqual([26, 27, 28, 29, 30]);
  });

  it('starts at a moment: only events recorded at or after it', async () => {
    const run = await payguard('export', '--data-dir', dir, '--since', '2026-11-20T10:27:00Z');

    expect(run.lines().map((event) => event.metadata.occurredAt)).toEqual([
      '2026-11-20T10:27:00.000Z',
      '2026-11-20T10:28:00.000Z',
      '2026-11-20T10:29:00.000Z',
    ]);
  });

  it('prints one stream by revision', async () => {
    const run = await payguard('export', '--data-dir', dir, '--stream', 'payment-pay_A2xxxx');

    expect(run.lines().map((event) => [event.revision, event.type])).toEqual([
      [0, 'PaymentInitiated'],
      [1, 'PaymentSucceeded'],
      [2, 'RefundRequested'],
      [3, 'RefundFailed'],
      [4, 'RefundSucceeded'],
    ]);
  });

  it('takes an order id (or a payment id) for --stream, as its help says', async () => {
    const byOrderId = await payguard('export', '--data-dir', dir, '--stream', 'A');
    const byPaymentId = await payguard('export', '--data-dir', dir, '--stream', 'pay_A2xxxx');

    expect(byOrderId.code).toBe(0);
    expect(byOrderId.out).toBe((await payguard('export', '--data-dir', dir, '--stream', 'order-A')).out);
    expect(new Set(byOrderId.lines().map((event) => event.streamName))).toEqual(new Set(['order-A']));
    expect(byPaymentId.out).toBe((await payguard('export', '--data-dir', dir, '--stream', 'payment-pay_A2xxxx')).out);
    expect((await payguard('export', '--data-dir', dir, '--stream', 'not an id')).code).toBe(2);
  });

  it('refuses a data directory that holds no store, instead of creating an empty one', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'payguard-audit-empty-'));
    dirs.push(empty);

    const run = await payguard('export', '--data-dir', empty);

    expect(run.code).toBe(2);
    expect(run.err).toMatch(/no Payguard event store at .*payguard\.db/);
  });
});

describe('payguard verify', () => {
  it('exits 0 and says OK when every invariant holds', async () => {
    const run = await payguard('verify', '--data-dir', await dataDirWith('audit/valid'), '--grace', '0');

    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^OK: 30 events \(4 orders, 5 payments, last position 30\), 0 violation\(s\)/);
  });

  const broken: Invariant[] = [
    'single-retained-success',
    'refund-missing',
    'refund-reason',
    'refund-duplicated',
    'refund-exceeds-capture',
    'refund-without-cause',
    'retained-success-refunded',
    'success-not-applied',
    'revision-gap',
    'position-gap',
    'unfoldable-event',
  ];

  it.each(broken)('exits 1 and names %s, with stream, revision and position, when a store breaks it', async (invariant) => {
    const run = await payguard('verify', '--data-dir', await dataDirWith(`audit/${invariant}`), '--grace', '0', '--json');

    expect(run.code).toBe(1);
    const lines = run.lines();
    const violations = lines.filter((line) => line.violation).map((line) => line.violation);
    expect(violations).toEqual([expect.objectContaining({ invariant, streamName: expect.any(String), revision: expect.any(Number), position: expect.any(Number) })]);
    expect(lines.at(-1).summary).toMatchObject({ violationCount: 1, byInvariant: { [invariant]: 1 } });
  });

  it('verifies an export file as well as a store', async () => {
    const run = await payguard('verify', '--file', join(ROOT, 'test/fixtures/audit/refund-missing.ndjson'), '--grace', '0');

    expect(run.code).toBe(1);
    expect(run.out).toMatch(/^VIOLATION refund-missing at payment-pay_B1xxxx revision 1 \(position 25\): /m);
  });
});

describe('payguard show order --at', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await dataDirWith('audit/valid');
  });
  const show = async (at?: string) => {
    const run = await payguard('show', 'order', 'A', '--data-dir', dir, ...(at === undefined ? [] : ['--at', at]));
    return { ...run, body: run.code === 0 ? JSON.parse(run.out) : undefined };
  };

  it('shows a captured payment the order had not yet heard of', async () => {
    const { body } = await show('2026-11-20T10:13:30Z');

    expect(body.order).toMatchObject({ status: 'pending', refunds: [], anomalies: [] });
    expect(body.order.payments.map((p: any) => [p.paymentId, p.status])).toEqual([
      ['pay_A1xxxx', 'succeeded'],
      ['pay_A2xxxx', 'pending'],
    ]);
    expect(body).toMatchObject({ at: '2026-11-20T10:13:30.000Z', lastEvent: { position: 14, occurredAt: '2026-11-20T10:13:00.000Z' }, eventsFolded: 6, eventsAfter: 6 });
  });

  it('shows the duplicate detected and its refund requested, then failed once, then succeeded', async () => {
    const requested = await show('2026-11-20T10:17:00Z');
    const failed = await show('2026-11-20T10:18:59Z');
    const now = await show();

    expect(requested.body.order).toMatchObject({
      status: 'paid',
      paidBy: 'pay_A1xxxx',
      anomalies: [{ kind: 'duplicate-payment', paymentId: 'pay_A2xxxx' }],
      refunds: [{ paymentId: 'pay_A2xxxx', reason: 'duplicate-payment', status: 'requested', attempts: 0 }],
    });
    // The attempt failed for now (the channel was down): the refund stays requested, its retry due.
    expect(failed.body.order.refunds).toEqual([
      expect.objectContaining({ status: 'requested', attempts: 1, lastError: 'sandbox-wallet: POST refunds answered 503', nextAttemptAt: '2026-11-20T10:19:00.000Z' }),
    ]);
    expect(now.body.order.refunds).toEqual([expect.objectContaining({ status: 'succeeded', completedAt: '2026-11-20T10:19:00.000Z' })]);
    expect(now.body).toMatchObject({ at: null, eventsAfter: 0 });
  });

  it('says the order did not exist yet before it was placed', async () => {
    const run = await show('2026-11-20T10:07:59Z');

    expect(run.code).toBe(2);
    expect(run.err).toMatch(/order A did not exist yet at 2026-11-20T10:07:59.000Z/);
  });
});

describe('payguard replay and rebuild', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await dataDirWith('audit/valid');
    expect((await payguard('rebuild', '--data-dir', dir)).code).toBe(0);
  });

  it('finds the live projections equal to a rebuild from zero', async () => {
    const run = await payguard('replay', '--data-dir', dir, '--json');

    expect(run.code).toBe(0);
    expect(run.lines().at(-1).summary).toMatchObject({ differences: 0, positions: { orders: 30, anomalies: 30, settlement: 30 }, eventsRead: 30 });
  });

  it('names its scratch copy only when it keeps it (--keep): a deleted one is not named', async () => {
    const run = await payguard('replay', '--data-dir', dir);
    const kept = await payguard('replay', '--data-dir', dir, '--keep');
    const keptAt = /into (\S+) \(kept\)/.exec(kept.out)?.[1];

    expect(run.out).toMatch(/^OK: rebuilt .* into a scratch copy \(deleted after the comparison; --keep keeps it\)/);
    expect(run.out + run.err).not.toMatch(/payguard-replay-/);
    expect(keptAt).toMatch(/payguard-replay-.*reports\.db$/);
    expect(existsSync(keptAt!)).toBe(true);
    rmSync(dirname(keptAt!), { recursive: true, force: true });
  });

  it('reports a live row that differs from the log, and rebuild repairs it', async () => {
    const db = new Database(join(dir, 'payguard.db'));
    db.prepare("UPDATE report_settlement SET captured_amount = captured_amount + 1 WHERE channel = 'sandbox-wallet' AND currency = 'CNY'").run();
    db.prepare("DELETE FROM report_orders WHERE order_id = 'C'").run();
    db.close();

    const tampered = await payguard('replay', '--data-dir', dir, '--json');
    expect(tampered.code).toBe(1);
    const differences = tampered.lines().filter((line) => line.difference).map((line) => line.difference);
    expect(differences).toEqual([
      expect.objectContaining({ projection: 'orders', table: 'orders', key: 'C', live: null, rebuilt: expect.objectContaining({ status: 'closed' }) }),
      expect.objectContaining({
        projection: 'settlement',
        table: 'settlement',
        key: '2026-11-20|sandbox-wallet|CNY',
        live: expect.objectContaining({ capturedAmount: '2000' }),
        rebuilt: expect.objectContaining({ capturedAmount: '1999' }),
      }),
    ]);

    expect((await payguard('rebuild', '--data-dir', dir)).code).toBe(0);
    expect((await payguard('replay', '--data-dir', dir)).code).toBe(0);
  });
});

describe('the payguard bin', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  const bin = (dir: string, ...args: string[]) =>
    new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [join(ROOT, 'dist/src/cli.js'), ...args], { env: { ...process.env, DATA_DIR: dir, EVENT_STORE: 'sqlite' } }, (error, stdout) =>
        resolve({ code: error === null ? 0 : Number(error.code), stdout }),
      );
    });

  it('rebuilds and replays the projections, writing them from a worker thread', async () => {
    const dir = await dataDirWith('audit/valid');

    const rebuilt = await bin(dir, 'rebuild', '--json');
    const replayed = await bin(dir, 'replay', '--json');

    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout).summary).toMatchObject({ eventsRead: 30, head: 30 });
    expect(replayed.code).toBe(0);
    expect(JSON.parse(replayed.stdout.trim().split('\n').at(-1)!).summary).toMatchObject({ differences: 0, rowsCompared: 4 + 2 + 3 + 4 });
  });

  it('runs as a program: verify of a data directory, exit code and summary', async () => {
    const { code, stdout } = await bin(await dataDirWith('audit/refund-exceeds-capture'), 'verify', '--grace', '0');

    expect(code).toBe(1);
    expect(stdout).toMatch(/^VIOLATION refund-exceeds-capture at payment-pay_B1xxxx/m);
    expect(stdout).toMatch(/^FAILED: 30 events/m);
  });
});

describe('the audit commands on PostgreSQL, given only a database URL and schema', () => {
  const schema = `payguard_audit_${randomBytes(4).toString('hex')}`;
  let reachable = false;
  beforeAll(async () => {
    reachable = (await postgresUnreachable()) === null;
    if (!reachable) return;
    const store = await PostgresEventStore.open({ connectionString: DATABASE_URL, schema });
    try {
      await appendInOrder(store, readFixture('audit/valid'));
    } finally {
      await store.close();
    }
  });
  afterAll(async () => {
    if (reachable) await dropSchema(schema);
  });
  const pg = (...argv: string[]) => payguard(...argv, '--database-url', DATABASE_URL, '--schema', schema);

  it('exports, verifies, rebuilds, replays against a scratch schema, and shows an order as it stood', async () => {
    if (!reachable) return console.warn('PostgreSQL unreachable: audit CLI on PostgreSQL skipped');

    const exported = await pg('export');
    const verified = await pg('verify', '--grace', '0');
    const rebuilt = await pg('rebuild');
    const replayed = await pg('replay', '--json');
    const shown = await pg('show', 'order', 'B', '--at', '2026-11-20T10:24:30Z');

    // PostgreSQL numbers events from their transaction ids: the log's order, at increasing positions with gaps.
    const positions: number[] = exported.lines().map((event) => event.position);
    expect(positions.every((position, i) => i === 0 || position > positions[i - 1])).toBe(true);
    expect(exported.lines().map((event) => [event.streamName, event.revision, event.type])).toEqual(
      readFixture('audit/valid').map((event) => [event.streamName, event.revision, event.type]),
    );
    expect([verified.code, rebuilt.code, replayed.code, shown.code]).toEqual([0, 0, 0, 0]);
    const last = positions.at(-1);
    expect(replayed.lines().at(-1).summary).toMatchObject({ differences: 0, positions: { orders: last, anomalies: last, settlement: last } });
    expect(replayed.lines().at(-1).summary.scratch).toMatch(new RegExp(`^schema ${schema}_replay_[0-9a-f]{8}$`));
    expect(JSON.parse(shown.out).order).toMatchObject({ status: 'expired', payments: [{ status: 'succeeded' }], anomalies: [], refunds: [] });
    expect(await schemasLike(`${schema}_replay_%`)).toEqual([]);
  });
});

async function schemasLike(pattern: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [pattern])).rows.map((row) => row.nspname);
  } finally {
    await client.end();
  }
}
