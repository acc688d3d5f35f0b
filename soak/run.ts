/**
 * The randomized soak: `npm run soak -- [--seed=N] [--seconds=S] [--payers=N] [--store=sqlite|postgres]`.
 *
 * A standalone sandbox gateway plays the providers (it survives Payguard's restarts, as a real
 * provider would); Payguard runs as its own process on one fixed port, on a fresh store. Payers
 * place orders and start, pay, pay twice, go back, close, pay late and sync, while a chaos loop
 * switches the provider's faults and SIGKILLs the service. Then the provider's trades (where the
 * money is) are checked against every order: no orphan trade, a paid order keeps exactly one
 * payment, an expired or closed one keeps nothing, every other capture is refunded in full once.
 * Every choice comes from one seeded PRNG; exit 1 on any violation.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { captured, openWork, PENDING_SLACK_MS, violationsOf, type OrderView, type ProviderTrade, type Snapshot, type Violation } from './checks.js';
import { streamOf, type Random } from './prng.js';
import { call, CLI, freePort, MAIN, ManagedProcess, ROOT, runNode, SANDBOX_MAIN, sleep, type Answer } from './processes.js';

// ---- options --------------------------------------------------------------------------------

const USAGE = 'usage: npm run soak -- [--seed=N] [--seconds=S] [--payers=N] [--store=sqlite|postgres] [--settle-seconds=S] [--keep]';
const OPTIONS = new Set(['seed', 'seconds', 'payers', 'store', 'settle-seconds', 'keep']);

function parseArgs(): Map<string, string> {
  const parsed = new Map<string, string>();
  for (const arg of process.argv.slice(2)) {
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    // An option it does not know (a typo, --help's cousins) must not start a run of minutes.
    if (match === null || !OPTIONS.has(match[1])) throw new Error(`unknown argument ${arg} (${USAGE})`);
    parsed.set(match[1], match[2] ?? 'true');
  }
  return parsed;
}

function numberArg(args: Map<string, string>, name: string, fallback: number): number {
  const raw = args.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
  return value;
}

const args = parseArgs();
const seed = numberArg(args, 'seed', Math.floor(Math.random() * 2 ** 31));
const seconds = numberArg(args, 'seconds', 60);
const payerCount = Math.max(1, numberArg(args, 'payers', 8));
const settleSeconds = numberArg(args, 'settle-seconds', 90);
const store = args.get('store') ?? 'sqlite';
const keep = args.has('keep');
if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store must be sqlite or postgres, got ${store}`);

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const SANDBOX_SECRET = `soak-secret-${seed}`;

// ---- the run's state ------------------------------------------------------------------------

const t0 = Date.now();
const since = (at = Date.now()): string => `+${((at - t0) / 1000).toFixed(2)}s`;

const stats = {
  requests: 0,
  unanswered: 0,
  statuses: {} as Record<string, number>,
  kills: 0,
  faultSwitches: 0,
  actions: {} as Record<string, number>,
};
/** Faults and kills as they happened, for reproductions. */
const timeline: string[] = [];
/** Per order, every call a payer made about it and what came back. */
const histories = new Map<string, string[]>();
/** Every order id a payer tried to place (placed or not: the end asks the service). */
const attempted: string[] = [];
const liveViolations: Violation[] = [];
let stopChaos = false;
let stopPayers = false;
const stopWaiters = new Set<() => void>();

/** Sleeps `ms`, or less when the payers are told to stop. */
function pause(ms: number): Promise<void> {
  if (stopPayers) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stopWaiters.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stopWaiters.add(done);
  });
}

// ---- processes ------------------------------------------------------------------------------

const workDir = mkdtempSync(join(tmpdir(), `payguard-soak-${store}-${seed}-`));
const dataDir = join(workDir, 'data');
mkdirSync(dataDir);
const schema = `soak_${seed}_${Date.now()}`;
const storeEnv: Record<string, string> =
  store === 'sqlite' ? { EVENT_STORE: 'sqlite', DATA_DIR: dataDir } : { EVENT_STORE: 'postgres', DATABASE_URL, DATABASE_SCHEMA: schema, DATA_DIR: dataDir };
const storeOptions =
  store === 'sqlite' ? ['--store', 'sqlite', '--data-dir', dataDir] : ['--store', 'postgres', '--database-url', DATABASE_URL, '--schema', schema];

const sandboxPort = await freePort();
const servicePort = await freePort();
const SANDBOX = `http://127.0.0.1:${sandboxPort}/sandbox`;
const BASE = `http://127.0.0.1:${servicePort}`;

const sandbox = new ManagedProcess(
  'sandbox',
  SANDBOX_MAIN,
  { SANDBOX_PORT: String(sandboxPort), SANDBOX_SECRET, SANDBOX_NOTIFY_DELAY_MS: '50' },
  `http://127.0.0.1:${sandboxPort}`,
  '/sandbox/faults',
  workDir,
);
const service = new ManagedProcess(
  'payguard',
  MAIN,
  {
    ...storeEnv,
    PORT: String(servicePort),
    PUBLIC_BASE_URL: BASE,
    API_KEYS: '',
    SANDBOX_GATEWAY_URL: SANDBOX,
    SANDBOX_SECRET,
    PAYMENT_MIN_VALIDITY_SECONDS: '1',
    CHANNEL_EXPIRY_MARGIN_SECONDS: '0',
    RECONCILE_INTERVAL_SECONDS: '1',
    TRADE_WATCH_SECONDS: '5',
    REFUND_MAX_ATTEMPTS: '1000',
    SANDBOX_TIMEOUT_MS: '1000',
  },
  BASE,
  '/health/ready',
  workDir,
);

/** A call counted in the stats, and written to the order's history when it concerns one. */
async function request(orderId: string | null, method: string, url: string, body?: unknown, timeoutMs = 5000): Promise<Answer> {
  const sentAt = Date.now();
  const answer = await call(method, url, body, timeoutMs);
  stats.requests++;
  if (answer.status === 0) stats.unanswered++;
  stats.statuses[answer.status] = (stats.statuses[answer.status] ?? 0) + 1;
  if (orderId !== null) {
    const path = url.replace(BASE, '').replace(SANDBOX, '{sandbox}');
    const what = answer.status === 0 ? `no answer (${answer.error})` : `${answer.status}${summary(answer.body)}`;
    histories.get(orderId)?.push(`${since(sentAt)} ${method} ${path}${body === undefined ? '' : ' ' + JSON.stringify(body)} -> ${what}`);
  }
  return answer;
}

function summary(body: any): string {
  if (body === null || typeof body !== 'object') return '';
  if (typeof body.type === 'string' && body.type.includes('/problems/')) return ` ${body.type.split('/').pop()}${body.code ? ` ${body.code}` : ''}`;
  const parts: string[] = [];
  if (body.paymentId && body.orderId) parts.push(`paymentId=${body.paymentId} status=${body.status}`);
  else if (body.outTradeNo) parts.push(`${body.outTradeNo} ${body.status}`);
  else if (body.orderId && body.status) parts.push(`status=${body.status}${body.paidBy ? ` paidBy=${body.paidBy}` : ''}`);
  if (body.action) parts.push(`action=${body.action}`);
  return parts.length ? ` ${parts.join(' ')}` : '';
}

// ---- payers ---------------------------------------------------------------------------------

const CHANNELS = ['sandbox-bank', 'sandbox-wallet'] as const;
type Action = 'start' | 'pay' | 'duplicate' | 'back' | 'close' | 'late' | 'sync' | 'look' | 'think';
const ACTIONS: readonly (readonly [Action, number])[] = [
  ['start', 3],
  ['pay', 3],
  ['duplicate', 1.5],
  ['back', 1],
  ['close', 0.7],
  ['late', 0.8],
  ['sync', 1],
  ['look', 1],
  ['think', 1],
];

interface Attempt {
  readonly paymentId: string;
  readonly channel: string;
}

/** The live check: an order seen pending well past its expiresAt while the service had been up. */
function checkPendingLive(orderId: string, answer: Answer, sentAt: number): void {
  if (answer.status !== 200 || answer.body?.status !== 'pending') return;
  const expiresAt = Date.parse(answer.body.expiresAt);
  if (sentAt > expiresAt + PENDING_SLACK_MS && sentAt > service.readyAt + PENDING_SLACK_MS && service.running) {
    liveViolations.push({
      kind: 'pending-past-expiry-live',
      orderId,
      detail: `order ${orderId} answered pending at ${since(sentAt)}, ${((sentAt - expiresAt) / 1000).toFixed(1)} s after expiresAt ${answer.body.expiresAt} (service up since ${since(service.readyAt)})`,
    });
  }
}

async function payer(index: number): Promise<void> {
  const random = streamOf(seed, `payer-${index}`);
  for (let n = 1; !stopPayers; n++) {
    await playOrder(random, `soak-${seed}-p${index}-${n}`);
    await pause(random.int(0, 300));
  }
}

async function playOrder(random: Random, orderId: string): Promise<void> {
  attempted.push(orderId);
  histories.set(orderId, []);
  const body = { orderId, amount: random.int(100, 99_999), currency: 'CNY', expiresInSeconds: random.int(3, 15) };
  let expiresAt: number | null = null;
  for (let attempt = 0; attempt < 4 && !stopPayers; attempt++) {
    const answer = await request(orderId, 'POST', `${BASE}/orders`, body);
    if (answer.status === 200 || answer.status === 201) {
      expiresAt = Date.parse(answer.body.expiresAt);
      break;
    }
    if (answer.status >= 400 && answer.status < 500) return;
    await pause(300);
  }
  if (expiresAt === null) return; // maybe placed, maybe not: the end asks the service
  const attempts: Attempt[] = [];
  const remember = (answer: Answer): Attempt | null => {
    if ((answer.status !== 200 && answer.status !== 201) || typeof answer.body?.paymentId !== 'string') return null;
    const attempt = { paymentId: answer.body.paymentId as string, channel: answer.body.channel as string };
    if (!attempts.some((known) => known.paymentId === attempt.paymentId)) attempts.push(attempt);
    return attempt;
  };
  const start = async (channel: string): Promise<Attempt | null> =>
    remember(await request(orderId, 'POST', `${BASE}/orders/${orderId}/payments`, { channel }));
  const pay = (attempt: Attempt): Promise<Answer> =>
    request(orderId, 'POST', `${SANDBOX}/pay/${attempt.paymentId}`, random.chance(0.12) ? { outcome: 'fail' } : {});
  const known = async (): Promise<Attempt | null> => (attempts.length > 0 ? random.pick(attempts) : start(random.pick(CHANNELS)));

  const steps = random.int(1, 6);
  for (let step = 0; step < steps && !stopPayers; step++) {
    const action = random.weighted(ACTIONS);
    stats.actions[action] = (stats.actions[action] ?? 0) + 1;
    switch (action) {
      case 'start':
        await start(random.pick(CHANNELS));
        break;
      case 'pay': {
        const attempt = await known();
        if (attempt) await pay(attempt);
        break;
      }
      case 'duplicate': {
        // A trade on each channel, both paid (in either order).
        const first = random.pick(CHANNELS);
        const one = await start(first);
        const two = await start(first === CHANNELS[0] ? CHANNELS[1] : CHANNELS[0]);
        for (const attempt of random.chance(0.5) ? [one, two] : [two, one]) if (attempt) await pay(attempt);
        break;
      }
      case 'back': {
        // The browser's back button: the page checks, then the payer starts again on a channel.
        await request(orderId, 'GET', `${BASE}/orders/${orderId}/checkout`);
        await start(attempts.length > 0 && random.chance(0.7) ? random.pick(attempts).channel : random.pick(CHANNELS));
        break;
      }
      case 'close':
        await request(orderId, 'POST', `${BASE}/orders/${orderId}/close`, random.chance(0.5) ? { reason: 'soak' } : {});
        break;
      case 'late': {
        // Within TRADE_WATCH_SECONDS of the trade's timeExpire (= expiresAt, the margin is 0).
        const attempt = await known();
        await pause(Math.max(0, expiresAt - Date.now()) + random.int(100, 3000));
        if (attempt && !stopPayers) await pay(attempt);
        break;
      }
      case 'sync': {
        const attempt = attempts.length > 0 ? random.pick(attempts) : null;
        if (attempt) await request(orderId, 'POST', `${BASE}/payments/${attempt.paymentId}/sync`);
        break;
      }
      case 'look': {
        const sentAt = Date.now();
        checkPendingLive(orderId, await request(orderId, 'GET', `${BASE}/orders/${orderId}`), sentAt);
        break;
      }
      case 'think':
        await pause(random.int(100, 1500));
        break;
    }
  }
  if (!stopPayers && random.chance(0.3)) {
    const sentAt = Date.now();
    checkPendingLive(orderId, await request(orderId, 'GET', `${BASE}/orders/${orderId}`), sentAt);
  }
}

// ---- chaos ----------------------------------------------------------------------------------

const FAULTS: readonly Record<string, unknown>[] = [
  { dropNotifications: true },
  { apiDown: true },
  { ignoreTimeExpire: true },
  { duplicateNotifications: 2 },
  { notifyDelayMs: 1500 },
  { createStallMs: 1500 },
  { captureAmountDelta: 7 },
];

async function setFaults(faults: Record<string, unknown>): Promise<boolean> {
  const answer = await call('PUT', `${SANDBOX}/faults`, faults, 3000);
  if (answer.status !== 200) return false;
  timeline.push(`${since()} faults ${JSON.stringify(faults)}`);
  return true;
}

async function faultLoop(): Promise<void> {
  const random = streamOf(seed, 'faults');
  while (!stopChaos) {
    const roll = random.next();
    let faults: Record<string, unknown> = {};
    if (roll >= 0.2) {
      const count = roll < 0.65 ? 1 : random.int(2, 3);
      for (let i = 0; i < count; i++) faults = { ...faults, ...random.pick(FAULTS) };
    }
    if (await setFaults(faults)) stats.faultSwitches++;
    const wait = random.int(1000, 3000);
    for (const end = Date.now() + wait; Date.now() < end && !stopChaos; ) await sleep(Math.min(100, end - Date.now()));
  }
}

/** Kill moments: 2 a minute (at least one in a run of 10 s or more), one in each equal slot of the run. */
function killSchedule(random: Random): number[] {
  const count = seconds >= 10 ? Math.max(1, Math.round((2 * seconds) / 60)) : 0;
  const slot = (seconds * 1000) / Math.max(1, count);
  return Array.from({ length: count }, (_, i) => Math.round(slot * i + slot * (0.15 + 0.7 * random.next())));
}

async function restartService(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await service.start(30_000);
      timeline.push(`${since()} service ready again`);
      return;
    } catch (error) {
      timeline.push(`${since()} restart #${attempt} failed: ${(error as Error).message}`);
      if (attempt >= 3) throw error;
    }
  }
}

async function killLoop(): Promise<void> {
  const random = streamOf(seed, 'kills');
  for (const at of killSchedule(random)) {
    while (Date.now() - t0 < at && !stopChaos) await sleep(50);
    if (stopChaos) return;
    await service.kill('SIGKILL');
    stats.kills++;
    timeline.push(`${since()} SIGKILL service`);
    await sleep(random.int(0, 1500));
    await restartService();
  }
}

// ---- the end: settle and judge --------------------------------------------------------------

async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return results;
}

/** The service's view of every attempted order and the providers' trades; null when any read failed. */
async function snapshot(): Promise<Snapshot | null> {
  const orders = new Map<string, OrderView | null>();
  let complete = true;
  await inBatches(attempted, 16, async (orderId) => {
    const answer = await call('GET', `${BASE}/orders/${orderId}`, undefined, 10_000);
    if (answer.status === 200) orders.set(orderId, answer.body as OrderView);
    else if (answer.status === 404) orders.set(orderId, null);
    else complete = false;
  });
  const trades: ProviderTrade[] = [];
  for (const provider of ['bank', 'wallet']) {
    const answer = await call('GET', `${SANDBOX}/api/${provider}/trades`, undefined, 10_000);
    if (answer.status !== 200) return null;
    trades.push(...(answer.body.trades as ProviderTrade[]).map((trade) => ({ ...trade, provider })));
  }
  return complete ? { orders, trades, now: Date.now() } : null;
}

interface Settled {
  readonly snapshot: Snapshot | null;
  readonly open: string[];
  readonly waitedMs: number;
}

/** Polls until no work is open for 3 s running (three sweeps), or the deadline. */
async function settle(): Promise<Settled> {
  const started = Date.now();
  const deadline = started + settleSeconds * 1000;
  let last: Snapshot | null = null;
  let open: string[] = ['no snapshot yet'];
  let quietSince: number | null = null;
  for (;;) {
    if (!service.running) await restartService();
    const taken = await snapshot();
    if (taken !== null) {
      last = taken;
      open = openWork(taken);
      quietSince = open.length === 0 ? (quietSince ?? Date.now()) : null;
      if (quietSince !== null && Date.now() - quietSince >= 3000) break;
    } else {
      open = ['a read failed'];
    }
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  return { snapshot: last, open, waitedMs: Date.now() - started };
}

function counts<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const item of items) result[key(item)] = (result[key(item)] ?? 0) + 1;
  return result;
}

function tail(text: string, lines = 30): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

async function dropSchema(): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

// ---- main -----------------------------------------------------------------------------------

console.log(`soak: seed=${seed} seconds=${seconds} payers=${payerCount} store=${store}${store === 'postgres' ? ` schema=${schema}` : ''} logs=${workDir}`);
let exitCode = 0;
try {
  await sandbox.start();
  await service.start();
  timeline.push(`${since()} service and sandbox ready`);

  const chaos = Promise.all([faultLoop(), killLoop()]);
  const payers = Array.from({ length: payerCount }, (_, i) => payer(i));
  while (Date.now() - t0 < seconds * 1000) await sleep(100);

  stopChaos = true;
  await chaos;
  const deadline = Date.now() + 10_000;
  while (!(await setFaults({}))) {
    if (Date.now() > deadline) throw new Error('the sandbox refused to clear its faults');
    await sleep(200);
  }
  stopPayers = true;
  for (const wake of [...stopWaiters]) wake();
  await Promise.all(payers);
  timeline.push(`${since()} payers stopped`);

  const settled = await settle();
  timeline.push(`${since()} settled after ${settled.waitedMs} ms${settled.open.length ? `, ${settled.open.length} items still open` : ''}`);
  const final = settled.snapshot;
  const violations: Violation[] = [...liveViolations];
  if (final === null) violations.push({ kind: 'no-snapshot', detail: 'the service or the sandbox never answered every read' });
  else violations.push(...violationsOf(final));
  if (settled.open.length > 0) {
    violations.push({ kind: 'not-settled', detail: `still open after ${settleSeconds} s: ${settled.open.slice(0, 20).join('; ')}` });
  }

  // The auditor's checks, on a quiet store.
  await service.kill('SIGTERM');
  const verify = await runNode([CLI, 'verify', ...storeOptions], storeEnv);
  if (verify.code !== 0) violations.push({ kind: 'verify-failed', detail: `payguard verify exited ${verify.code}:\n${tail(verify.output)}` });
  const reconcileHelp = await runNode([CLI, 'reconcile', '--help'], storeEnv, 30_000);
  const reconcileAvailable = reconcileHelp.code === 0;
  let reconcile: { code: number; output: string } | null = null;
  if (reconcileAvailable) {
    reconcile = await runNode([CLI, 'reconcile', '--all', '--grace', '0', '--gateway-url', SANDBOX, ...storeOptions], { ...storeEnv, SANDBOX_GATEWAY_URL: SANDBOX, SANDBOX_SECRET });
    if (reconcile.code !== 0) violations.push({ kind: 'reconcile-failed', detail: `payguard reconcile exited ${reconcile.code}:\n${tail(reconcile.output)}` });
  }

  const views = final === null ? [] : [...final.orders.values()].filter((order): order is OrderView => order !== null);
  const trades = final?.trades ?? [];
  const refunds = views.flatMap((order) => order.refunds);
  const involved = new Set(violations.flatMap((violation) => (violation.orderId ? [violation.orderId] : [])));
  const ownerOf = (paymentId: string): string | undefined =>
    views.find((order) => order.payments.some((payment) => payment.paymentId === paymentId))?.orderId;
  for (const violation of violations) {
    if (!violation.orderId && violation.paymentId) involved.add(ownerOf(violation.paymentId) ?? '');
    // The CLI names streams: `VIOLATION <kind> at payment-<id>` or `order-<id>`.
    for (const [, kind, id] of violation.detail.matchAll(/VIOLATION \S+ at (order|payment)-([A-Za-z0-9_-]+)/g)) {
      involved.add(kind === 'order' ? id : (ownerOf(id) ?? ''));
    }
  }
  involved.delete('');
  const report = {
    seed,
    store,
    seconds,
    payers: payerCount,
    startedAt: new Date(t0).toISOString(),
    durationSeconds: Math.round((Date.now() - t0) / 1000),
    settleSeconds: Math.round(settled.waitedMs / 100) / 10,
    orders: {
      attempted: attempted.length,
      placed: views.length,
      ...counts(views, (order) => order.status),
    },
    payments: views.reduce((sum, order) => sum + order.payments.length, 0),
    paymentStatuses: counts(views.flatMap((order) => order.payments), (payment) => payment.status),
    providerTrades: { total: trades.length, ...counts(trades, (trade) => trade.status) },
    providerRefunds: trades.reduce((sum, trade) => sum + trade.refunds.length, 0),
    providerMoneyKept: trades.filter((trade) => trade.status === 'PAID').reduce((sum, trade) => sum + captured(trade) - trade.refundedAmount, 0),
    refunds: { total: refunds.length, ...counts(refunds, (refund) => `${refund.reason}/${refund.status}`) },
    anomalies: counts(views.flatMap((order) => order.anomalies), (anomaly) => anomaly.kind),
    kills: stats.kills,
    faultSwitches: stats.faultSwitches,
    requests: { total: stats.requests, unanswered: stats.unanswered, byStatus: stats.statuses },
    actions: stats.actions,
    verify: { code: verify.code, output: tail(verify.output, 10) },
    reconcile: reconcileAvailable ? { available: true, code: reconcile!.code, output: tail(reconcile!.output, 10) } : { available: false },
    violationCount: violations.length,
    violations,
    open: settled.open,
    timeline,
    /** For each order named in a violation: every call about it, its final view, and its trades. */
    evidence: Object.fromEntries(
      [...involved].slice(0, 20).map((orderId) => {
        const view = final?.orders.get(orderId) ?? null;
        const paymentIds = new Set(view?.payments.map((payment) => payment.paymentId) ?? []);
        return [orderId, { calls: histories.get(orderId) ?? [], view, trades: trades.filter((trade) => paymentIds.has(trade.outTradeNo)) }];
      }),
    ),
    logs: workDir,
  };
  const resultsFile = join(ROOT, 'soak', `results-${store}-${seed}.json`);
  mkdirSync(join(ROOT, 'soak'), { recursive: true });
  writeFileSync(resultsFile, JSON.stringify(report, null, 2) + '\n');

  console.log(
    [
      `soak report (${resultsFile})`,
      `  seed ${seed}, store ${store}, ${seconds} s with ${payerCount} payers, settled in ${report.settleSeconds} s`,
      `  orders ${report.orders.placed} placed of ${report.orders.attempted} tried: ${Object.entries(counts(views, (order) => order.status)).map(([status, n]) => `${n} ${status}`).join(', ')}`,
      `  payments ${report.payments}; provider trades ${trades.length} (${Object.entries(counts(trades, (trade) => trade.status)).map(([status, n]) => `${n} ${status}`).join(', ')}); provider refunds ${report.providerRefunds}`,
      `  refunds ${refunds.length}: ${Object.entries(report.refunds).filter(([key]) => key !== 'total').map(([key, n]) => `${n} ${key}`).join(', ') || 'none'}`,
      `  kills ${stats.kills}, fault switches ${stats.faultSwitches}, requests ${stats.requests} (${stats.unanswered} unanswered)`,
      `  verify: exit ${verify.code}; reconcile: ${reconcileAvailable ? `exit ${reconcile!.code}` : 'not available (payguard reconcile --help failed)'}`,
      `  violations: ${violations.length}`,
      ...violations.slice(0, 30).map((violation) => `    [${violation.kind}] ${violation.detail}`),
      ...(violations.length > 30 ? [`    ... and ${violations.length - 30} more in the JSON report`] : []),
    ].join('\n'),
  );
  exitCode = violations.length > 0 ? 1 : 0;
} catch (error) {
  console.error(`soak: the run itself failed: ${(error as Error).stack ?? error}`);
  console.error(`logs: ${workDir}`);
  exitCode = 2;
} finally {
  stopChaos = true;
  stopPayers = true;
  for (const wake of [...stopWaiters]) wake();
  await service.kill('SIGTERM').catch(() => undefined);
  await sandbox.kill('SIGTERM').catch(() => undefined);
  service.close();
  sandbox.close();
  if (store === 'postgres') await dropSchema().catch((error: Error) => console.error(`could not drop schema ${schema}: ${error.message}`));
  if (exitCode === 0 && !keep) rmSync(workDir, { recursive: true, force: true });
  else console.log(`logs and data kept in ${workDir}`);
}
process.exit(exitCode);
