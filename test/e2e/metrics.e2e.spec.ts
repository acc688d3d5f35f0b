/**
 * /metrics as Prometheus scrapes it, after real traffic on the sandbox: the business counters move
 * on a real duplicate payment (counted from the log, once, also across a restart), channel calls
 * and request latencies are counted by route template, and every metric the Grafana dashboard and
 * the alert rules in ops/ name is one the running app exposes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';
import { ROOT } from '../support/processes.js';

/** Sample name -> value, for every sample line of a scrape (`name{labels} value`). */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return found;
}

const namesOf = (scrape: Map<string, number>): Set<string> => new Set([...scrape.keys()].map((key) => key.replace(/\{.*$/, '')));

/** The metric names a PromQL expression reads: Payguard's own and the default process ones. */
const metricNames = (expr: string): string[] => expr.match(/\b(?:payguard|process|nodejs)_[a-z0-9_]+\b/g) ?? [];

async function scrape(app: TestApp): Promise<Map<string, number>> {
  const answer = await app.request<string>('GET', '/metrics');
  expect(answer.status).toBe(200);
  return samples(answer.body);
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'ops/grafana/payguard.json'), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
}

/** `expr:` lines of the rules file (each rule keeps its expression on one line, which promtool checks below). */
function ruleExpressions(): string[] {
  return [...readFileSync(join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8').matchAll(/^\s+expr: (.+)$/gm)].map((match) => match[1]);
}

describe('metrics after a real duplicate payment on the sandbox', () => {
  let app: TestApp;
  // Kept across the restart below.
  const dataDir = mkdtempSync(join(tmpdir(), 'payguard-metrics-'));
  beforeAll(async () => {
    app = await startTestApp({ SANDBOX_ENABLED: 'true', RECONCILE_INTERVAL_SECONDS: '1' }, { keepDataDir: dataDir });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('counts the anomaly, the refund and the provider calls once each', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'met-dup', amount: 1999, currency: 'CNY' })).status).toBe(201);
    const bank = await app.request('POST', '/orders/met-dup/payments', { channel: 'sandbox-bank' });
    const wallet = await app.request('POST', '/orders/met-dup/payments', { channel: 'sandbox-wallet' });
    expect((await app.pay(bank.body.paymentId)).status).toBe(200);
    expect((await app.pay(wallet.body.paymentId)).status).toBe(200);
    await eventually(() => app.request('GET', '/orders/met-dup'), (answer) => answer.body.refunds[0]?.status === 'succeeded', 10_000, 'the refund of the duplicate');

    const after = await eventually(() => scrape(app), (found) => found.get('payguard_refunds_total{outcome="succeeded"}') === 1, 10_000, 'the refund counted');
    expect(after.get('payguard_anomalies_total{kind="duplicate-payment"}')).toBe(1);
    expect(after.get('payguard_anomalies_total{kind="paid-after-expiry"}')).toBe(0);
    expect(after.get('payguard_refunds_total{outcome="requested"}')).toBe(1);
    expect(after.get('payguard_orders_total{outcome="placed"}')).toBe(1);
    expect(after.get('payguard_orders_total{outcome="paid"}')).toBe(1);
    expect(after.get('payguard_channel_requests_total{channel="sandbox-bank",operation="create_trade",outcome="ok"}')).toBe(1);
    expect(after.get('payguard_channel_requests_total{channel="sandbox-wallet",operation="create_trade",outcome="ok"}')).toBe(1);
    expect(after.get('payguard_channel_requests_total{channel="sandbox-wallet",operation="refund",outcome="ok"}')).toBe(1);
    expect(after.get('payguard_channel_request_duration_seconds_count{channel="sandbox-wallet",operation="refund"}')).toBe(1);
    // By route template: the two payment starts are one series, whatever the order id.
    expect(after.get('payguard_http_request_duration_seconds_count{method="POST",route="/orders/:orderId/payments",status="201"}')).toBe(2);
    expect([...after.keys()].some((key) => key.includes('met-dup'))).toBe(false);
    // Nothing owed any more.
    expect(after.get('payguard_open_refund_oldest_age_seconds')).toBe(0);
  });

  it('counts a provider that cannot be reached as unavailable', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'met-down', amount: 500, currency: 'CNY' })).status).toBe(201);
    const started = await app.request('POST', '/orders/met-down/payments', { channel: 'sandbox-bank' });
    expect(started.status).toBe(201);
    // apiDown: the provider answers queries, closes and refunds 503.
    await app.faults({ apiDown: true });
    try {
      expect((await app.request('POST', `/payments/${started.body.paymentId}/sync`)).status).toBe(503);
    } finally {
      await app.faults({});
    }
    expect((await scrape(app)).get('payguard_channel_requests_total{channel="sandbox-bank",operation="query_trade",outcome="unavailable"}')).toBeGreaterThanOrEqual(1);
  });

  it('observes expiry lag, and counts the sweeps', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'met-exp', amount: 500, currency: 'CNY', expiresInSeconds: 1 })).status).toBe(201);
    await eventually(() => app.request('GET', '/orders/met-exp'), (answer) => answer.body.status === 'expired', 10_000, 'the expiry');
    const after = await eventually(() => scrape(app), (found) => found.get('payguard_expiry_lag_seconds_count') === 1 && (found.get('payguard_sweep_runs_total{outcome="ok"}') ?? 0) >= 1, 10_000, 'expiry and a sweep counted');
    expect(after.get('payguard_orders_total{outcome="expired"}')).toBe(1);
    expect(after.get('payguard_expiry_lag_seconds_sum')).toBeGreaterThanOrEqual(0);
    expect(after.get('payguard_sweep_findings_total{kind="trades_queried"}')).toBeGreaterThanOrEqual(0);
  });

  it('exposes every metric the Grafana dashboard and the alert rules query', async () => {
    const exposed = namesOf(await scrape(app));
    const named = new Set([...dashboardExpressions(), ...ruleExpressions()].flatMap(metricNames));
    expect(named.size).toBeGreaterThan(15);
    expect([...named].filter((name) => !exposed.has(name))).toEqual([]);
    expect(ruleExpressions()).toHaveLength(5);
  });

  it('exposes the default process metrics without the payguard_ prefix, and a lag per follower', async () => {
    const exposed = await scrape(app);
    expect(exposed.has('process_cpu_seconds_total')).toBe(true);
    expect([...namesOf(exposed)].filter((name) => name.startsWith('payguard_process_') || name.startsWith('payguard_nodejs_'))).toEqual([]);
    for (const follower of ['open-work', 'process-manager', 'refund-executor', 'metrics']) {
      expect(exposed.has(`payguard_log_follower_lag_events{follower="${follower}"}`)).toBe(true);
    }
  });

  it('does not count the same facts again after a restart on the same store', async () => {
    await app.close();
    app = await startTestApp({ SANDBOX_ENABLED: 'true' }, { keepDataDir: dataDir });
    expect((await app.request('POST', '/orders', { orderId: 'met-after', amount: 500, currency: 'CNY' })).status).toBe(201);
    // The new order is counted; the duplicate payment before the restart is not counted again.
    const after = await eventually(() => scrape(app), (found) => found.get('payguard_orders_total{outcome="placed"}') === 1, 10_000, 'the new order counted');
    expect(after.get('payguard_anomalies_total{kind="duplicate-payment"}')).toBe(0);
    expect(after.get('payguard_refunds_total{outcome="succeeded"}')).toBe(0);
  });
});

describe('METRICS_ENABLED=false', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ METRICS_ENABLED: 'false' });
  });
  afterAll(() => app?.close());

  it('keeps the process metrics only, and runs no metrics follower', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'met-off', amount: 500, currency: 'CNY' })).status).toBe(201);
    const exposed = namesOf(await scrape(app));
    expect(exposed.has('process_cpu_seconds_total')).toBe(true);
    expect([...exposed].filter((name) => name.startsWith('payguard_'))).toEqual([]);
    expect((await app.request('GET', '/health/ready')).body.lag).not.toHaveProperty('metrics');
  });
});

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((path) => existsSync(path));
(promtool === undefined ? describe.skip : describe)(`the alert rules${promtool === undefined ? ' (skipped: promtool is not installed; .ci/run installs Debian prometheus)' : ''}`, () => {
  it('pass promtool check rules', () => {
    const output = execFileSync(promtool!, ['check', 'rules', join(ROOT, 'ops/prometheus/alerts.yml')], { encoding: 'utf8' });
    expect(output).toContain('SUCCESS: 5 rules found');
  });
});
