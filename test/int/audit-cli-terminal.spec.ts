/**
 * The payguard CLI as people run it: a progress line on a terminal (a pseudo-terminal from
 * util-linux `script`) and none when piped; `rebuild` refused while a service holds the store;
 * and the README's audit examples, run as written against a store the README's walkthrough made.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAuditCli } from '../../src/infrastructure/cli/audit-cli.js';
import { PostgresEventStore } from '../../src/infrastructure/event-store/postgres.event-store.js';
import { PostgresLeadership } from '../../src/infrastructure/event-store/postgres.leadership.js';
import { appendInOrder, readFixture, writeRawSqlite } from '../support/fixture-store.js';
import { eventually } from '../support/harness.js';
import { DATABASE_URL, dropSchema, postgresUnreachable } from '../support/postgres.js';
import { callJson, ensureBuilt, MAIN, ROOT, spawnService, type ServiceProcess } from '../support/processes.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'payguard-cli-'));
  dirs.push(dir);
  return dir;
}

/** A shell command's exit code and output (stdout and stderr apart). */
function sh(command: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });
}
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** Why a pseudo-terminal can't be had here (util-linux `script`), or null. */
function noPseudoTerminal(): string | null {
  try {
    execFileSync('script', ['--version'], { stdio: 'pipe' });
    return null;
  } catch {
    return 'util-linux script is not installed';
  }
}
const noPty = noPseudoTerminal();

const PROGRESS = (label: string, events: number) => new RegExp(`\\r${label}: ${events} events \\(100%\\), [\\d,]+ events/s, about \\d+ s left\\x1b\\[K`);

(noPty === null ? describe : describe.skip)(`progress on a terminal${noPty === null ? '' : ` (skipped: ${noPty})`}`, () => {
  let dir: string;
  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    await writeRawSqlite(dir, readFixture('audit/valid'));
  }, 120_000);
  /** Runs the CLI on a pseudo-terminal: what the terminal showed (stdout and stderr together). */
  const onTerminal = (args: string) => sh(`script -qfec ${quote(`${quote(process.execPath)} ${quote(CLI)} ${args}`)} /dev/null`);

  it('draws, in place on stderr, events done, rate and time left for verify, export, rebuild and replay, and clears it before the summary', async () => {
    const out = join(tempDir(), 'log.ndjson');
    const verified = await onTerminal(`verify --data-dir ${quote(dir)}`);
    const exported = await onTerminal(`export --data-dir ${quote(dir)} > ${quote(out)}`);
    const rebuilt = await onTerminal(`rebuild --data-dir ${quote(dir)}`);
    const replayed = await onTerminal(`replay --data-dir ${quote(dir)}`);

    expect([verified.code, exported.code, rebuilt.code, replayed.code]).toEqual([0, 0, 0, 0]);
    expect(verified.stdout).toMatch(PROGRESS('verify', 30));
    expect(verified.stdout).toMatch(/\r\x1b\[KOK: 30 events/);
    expect(exported.stdout).toMatch(PROGRESS('export', 30));
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(30);
    expect(rebuilt.stdout).toMatch(PROGRESS('rebuild', 30));
    expect(replayed.stdout).toMatch(PROGRESS('replay', 30));
  });

  it('prints no progress when stderr is piped: only the summary', async () => {
    const verified = await sh(`${quote(process.execPath)} ${quote(CLI)} verify --data-dir ${quote(dir)}`);
    const rebuilt = await sh(`${quote(process.execPath)} ${quote(CLI)} rebuild --data-dir ${quote(dir)} 2>&1 | cat`);

    expect(verified.code).toBe(0);
    expect(verified.stderr).toMatch(/^verified in [\d.]+ s \([\d]+ events\/s\), peak RSS [\d.]+ MiB\n$/);
    expect(verified.stderr + verified.stdout).not.toMatch(/\r|\x1b/);
    expect(rebuilt.stdout).not.toMatch(/\r|\x1b|rebuild: /);
    expect(rebuilt.stdout).toMatch(/^OK: rebuilt orders, anomalies, settlement up to position 30\n/);
  });
});

describe('the README audit examples, run as written after the walkthrough, and rebuild while the service runs', () => {
  let service: ServiceProcess;
  let home: string;
  let dataDir: string;
  beforeAll(async () => {
    ensureBuilt();
    home = tempDir();
    dataDir = join(home, 'data');
    service = await spawnService('payguard', MAIN, { DATA_DIR: dataDir, SANDBOX_NOTIFY_DELAY_MS: '0', EVENT_STORE: 'sqlite', LOG_LEVEL: 'warn' });
    // The walkthrough's demo-1: paid on the bank, then again on the wallet (refunded once).
    expect((await callJson(service.url, 'POST', '/orders', { orderId: 'demo-1', amount: 1999, currency: 'CNY' })).status).toBe(201);
    const bank = (await callJson(service.url, 'POST', '/orders/demo-1/payments', { channel: 'sandbox-bank' })).body.paymentId;
    const wallet = (await callJson(service.url, 'POST', '/orders/demo-1/payments', { channel: 'sandbox-wallet' })).body.paymentId;
    expect((await callJson(service.url, 'POST', `/sandbox/pay/${bank}`, {})).status).toBe(200);
    expect((await callJson(service.url, 'POST', `/sandbox/pay/${wallet}`, {})).status).toBe(200);
    await eventually(() => callJson(service.url, 'GET', '/orders/demo-1'), (answer) => answer.body.refunds?.[0]?.status === 'succeeded', 15_000, 'demo-1 refunded');
  }, 120_000);
  afterAll(() => service?.kill('SIGTERM'));

  /** The README's audit block: each command line, comments and all (the shell drops them). */
  function readmeExamples(): string[] {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Auditors and reporting'));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
    return block.split('\n').filter((line) => /^(npm run -s audit --|npx payguard) /.test(line));
  }

  it('runs every one with exit code 0 and the output it promises', async () => {
    const examples = readmeExamples();
    expect(examples.length).toBeGreaterThanOrEqual(8);
    const port = new URL(service.url).port;
    const results = [];
    for (const example of examples) {
      // Only where the files go changes: ./data is this test's data directory, log.ndjson goes beside it.
      const command = example.replaceAll('./data', quote(dataDir)).replace('> log.ndjson', `> ${quote(join(home, 'log.ndjson'))}`);
      const result = await sh(command, { PORT: port });
      results.push({ example, code: result.code, stderr: result.stderr.slice(0, 500) });
      // Each check names its example when it fails.
      if (example.includes(' verify ')) expect({ example, stdout: result.stdout, stderr: result.stderr }).toMatchObject({ stdout: expect.stringMatching(/^OK: /m) });
      if (example.includes('--stream demo-1')) {
        const streams = result.stdout.trim().split('\n').map((line) => JSON.parse(line).streamName);
        expect(new Set(streams)).toEqual(new Set(['order-demo-1']));
      }
      if (example.includes('show order demo-1')) expect(JSON.parse(result.stdout).order).toMatchObject({ orderId: 'demo-1', status: 'paid' });
      if (example.includes(' replay ')) expect(result.stdout).toMatch(/^OK: rebuilt .* 0 difference\(s\)$/m);
      if (example.includes(' reconcile ')) expect(result.stdout).not.toMatch(/capture-unrecorded|kept-not-paid|refund-differs|unverified/);
    }

    expect(results.filter((result) => result.code !== 0)).toEqual([]);
    expect(readFileSync(join(home, 'log.ndjson'), 'utf8').trim().split('\n').length).toBeGreaterThan(10);
  }, 180_000);

  it('refuses rebuild while the service holds DATA_DIR, naming it, and changes nothing; runs once it stopped', async () => {
    const refused = await sh(`${quote(process.execPath)} ${quote(CLI)} rebuild --data-dir ${quote(dataDir)}`);

    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/rebuild refused: DATA_DIR .* is held by a running Payguard \(pid \d+ on .*\)\. .*stop the service first/);
    expect(refused.stdout).toBe('');
    // The service's reports are intact: still the paid order with its refund.
    const listed = await callJson(service.url, 'GET', '/orders');
    expect(listed.body.orders).toEqual([expect.objectContaining({ orderId: 'demo-1', status: 'paid', refundedAmount: 1999 })]);

    await service.kill('SIGTERM');
    const rebuilt = await sh(`${quote(process.execPath)} ${quote(CLI)} rebuild --data-dir ${quote(dataDir)}`);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(/^OK: rebuilt orders, anomalies, settlement up to position \d+\n$/);
  }, 60_000);
});

const pgUnreachable = await postgresUnreachable();
(pgUnreachable === null ? describe : describe.skip)(`rebuild on PostgreSQL while an instance leads the schema${pgUnreachable === null ? '' : ` (skipped: ${pgUnreachable})`}`, () => {
  const schema = `payguard_rebuild_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    const store = await PostgresEventStore.open({ connectionString: DATABASE_URL, schema });
    try {
      await appendInOrder(store, readFixture('audit/valid'));
    } finally {
      await store.close();
    }
  });
  afterAll(() => dropSchema(schema));
  const rebuild = async () => {
    let out = '';
    let err = '';
    const code = await runAuditCli(['rebuild', '--database-url', DATABASE_URL, '--schema', schema], {}, { out: async (text) => void (out += text), err: (text) => void (err += text) });
    return { code, out, err };
  };

  it('is refused while the leader lock is held, and runs once the leader resigned', async () => {
    // The service's own election: what a running instance holds.
    const leadership = new PostgresLeadership({ connectionString: DATABASE_URL, schema, intervalMs: 100_000 });
    await leadership.campaign({ onElected: async () => undefined, onDeposed: async () => undefined });
    try {
      expect(leadership.isLeader).toBe(true);
      const refused = await rebuild();
      expect(refused.code).toBe(2);
      expect(refused.err).toMatch(new RegExp(`rebuild refused: an instance leads schema ${schema}`));
    } finally {
      await leadership.resign();
    }

    const rebuilt = await rebuild();
    expect(rebuilt.code).toBe(0);
    // PostgreSQL's positions come from transaction ids: not 30 for 30 events.
    expect(rebuilt.out).toMatch(/^OK: rebuilt orders, anomalies, settlement up to position \d+\n$/);
  });
});
