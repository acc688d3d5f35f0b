// Renders docs/metrics.png: what /metrics of a running Payguard says after some real sandbox
// traffic (orders paid, duplicate payments, orders paid after they expired, a provider outage),
// drawn as the dashboard's main panels would show it, without Grafana.
//
//   npm run build && node ops/preview/metrics-page.mjs [out.png]
//
// Needs Debian's chromium (apt-get install -y chromium). Everything runs on 127.0.0.1.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = process.argv[2] ?? join(ROOT, 'docs/metrics.png');
const { startPayguard } = await import(join(ROOT, 'dist/src/infrastructure/bootstrap.js'));

const dataDir = mkdtempSync(join(tmpdir(), 'payguard-preview-'));
const running = await startPayguard({
  env: { PORT: '0', DATA_DIR: dataDir, SANDBOX_NOTIFY_DELAY_MS: '0', PAYMENT_MIN_VALIDITY_SECONDS: '1', CHANNEL_EXPIRY_MARGIN_SECONDS: '0', RECONCILE_INTERVAL_SECONDS: '1' },
  host: '127.0.0.1',
  logger: false,
});
const call = async (method, path, body) => {
  const response = await fetch(`${running.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  // Paid once, on one of the two sandbox providers.
  for (let i = 0; i < 24; i++) {
    await call('POST', '/orders', { orderId: `paid-${i}`, amount: 1000 + i, currency: 'CNY' });
    const payment = await call('POST', `/orders/paid-${i}/payments`, { channel: i % 3 === 0 ? 'sandbox-wallet' : 'sandbox-bank' });
    await call('POST', `/sandbox/pay/${payment.body.paymentId}`, {});
  }
  // Paid twice: the second success is refunded as duplicate-payment.
  for (let i = 0; i < 5; i++) {
    await call('POST', '/orders', { orderId: `dup-${i}`, amount: 1999, currency: 'CNY' });
    const bank = await call('POST', `/orders/dup-${i}/payments`, { channel: 'sandbox-bank' });
    const wallet = await call('POST', `/orders/dup-${i}/payments`, { channel: 'sandbox-wallet' });
    await call('POST', `/sandbox/pay/${bank.body.paymentId}`, {});
    await call('POST', `/sandbox/pay/${wallet.body.paymentId}`, {});
  }
  // Left to expire; two of them paid afterwards at a provider that ignores timeExpire (refunded as paid-after-expiry).
  const late = [];
  for (let i = 0; i < 6; i++) {
    await call('POST', '/orders', { orderId: `exp-${i}`, amount: 500, currency: 'CNY', expiresInSeconds: 2 });
    if (i < 2) late.push((await call('POST', `/orders/exp-${i}/payments`, { channel: 'sandbox-bank' })).body.paymentId);
  }
  await call('POST', '/orders', { orderId: 'closed-1', amount: 800, currency: 'CNY' });
  await call('POST', '/orders/closed-1/close', { reason: 'customer cancelled' });
  // A provider outage: queries fail while it lasts (the sweep and a sync ask).
  const pending = await call('POST', '/orders', { orderId: 'pending-1', amount: 900, currency: 'CNY' });
  const open = await call('POST', `/orders/${pending.body.orderId}/payments`, { channel: 'sandbox-wallet' });
  await call('PUT', '/sandbox/faults', { apiDown: true });
  for (let i = 0; i < 3; i++) await call('POST', `/payments/${open.body.paymentId}/sync`);
  await sleep(3000);
  await call('PUT', '/sandbox/faults', { ignoreTimeExpire: true });
  for (const paymentId of late) await call('POST', `/sandbox/pay/${paymentId}`, {});
  await call('PUT', '/sandbox/faults', {});
  for (let i = 0; i < 10; i++) await call('GET', `/orders/paid-${i}`);
  await running.workers.settled(await running.store.headPosition());
  await sleep(2500); // the metrics follower reads at most every 200 ms; two sweeps run meanwhile

  const text = (await call('GET', '/metrics')).body;
  writeFileSync(join(tmpdir(), 'payguard-preview-metrics.txt'), text);
  const html = page(parse(text), new Date().toISOString());
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  try {
    const tab = await browser.newPage({ viewport: { width: 1360, height: 760 }, deviceScaleFactor: 1 });
    await tab.setContent(html);
    await tab.screenshot({ path: OUT, fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${OUT}`);
} finally {
  await running.close();
  rmSync(dataDir, { recursive: true, force: true });
}

/** Samples as { name, labels, value }. */
function parse(text) {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((label) => [label[1], label[2]]));
      return { name: match[1], labels, value: Number(match[3]) };
    });
}

function page(samples, at) {
  const of = (name, filter = () => true) => samples.filter((sample) => sample.name === name && filter(sample.labels));
  const bars = (name, label) => of(name).map((sample) => [sample.labels[label], sample.value]);
  const byRoute = new Map();
  for (const sample of of('payguard_http_request_duration_seconds_bucket')) {
    const key = `${sample.labels.method} ${sample.labels.route}`;
    const buckets = byRoute.get(key) ?? new Map();
    buckets.set(sample.labels.le, (buckets.get(sample.labels.le) ?? 0) + sample.value);
    byRoute.set(key, buckets);
  }
  const p95 = [...byRoute].map(([route, buckets]) => [route, quantile(0.95, buckets) * 1000]).filter(([route]) => !route.includes('/sandbox') && !route.includes('metrics'));
  const channel = of('payguard_channel_requests_total').map((sample) => [`${sample.labels.channel.replace('sandbox-', '')} ${sample.labels.operation} ${sample.labels.outcome}`, sample.value]).filter(([, value]) => value > 0);
  const lagBuckets = of('payguard_expiry_lag_seconds_bucket').map((sample) => [sample.labels.le, sample.value]);
  const lagCounts = lagBuckets.map(([le, count], index) => [`≤ ${le} s`, count - (index === 0 ? 0 : lagBuckets[index - 1][1])]).filter(([, value], index) => value > 0 || index < 6);
  const panels = [
    ['Anomalies by kind', bars('payguard_anomalies_total', 'kind'), ''],
    ['Refunds by outcome', bars('payguard_refunds_total', 'outcome'), ''],
    ['Orders by outcome', bars('payguard_orders_total', 'outcome'), ''],
    ['Open items', bars('payguard_open_items', 'kind'), ''],
    ['Provider calls (channel, operation, outcome)', channel, ''],
    ['Request latency p95 by route', p95, ' ms'],
    ['Expiry lag (recorded after expiresAt)', lagCounts, ''],
    ['Sweep findings', bars('payguard_sweep_findings_total', 'kind').filter(([, value]) => value > 0), ''],
    ['Log follower lag (events)', bars('payguard_log_follower_lag_events', 'follower'), ''],
  ];
  const oldest = of('payguard_open_refund_oldest_age_seconds')[0]?.value ?? 0;
  const runs = of('payguard_sweep_runs_total').map((sample) => `${sample.labels.outcome} ${sample.value}`).join(', ');
  return `<!doctype html><meta charset="utf-8"><style>
    body { font: 13px system-ui, sans-serif; margin: 20px; background: #111217; color: #d8d9da; }
    h1 { font-size: 18px; margin: 0 0 4px; } p { margin: 0 0 14px; color: #8e9099; }
    .grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
    .label { font-size: 12px; }
    .panel { background: #181b1f; border: 1px solid #2c3235; border-radius: 4px; padding: 10px 12px; }
    .panel h2 { font-size: 13px; margin: 0 0 8px; font-weight: 600; }
    .row { display: grid; grid-template-columns: 58% 1fr 70px; align-items: center; gap: 6px; margin: 3px 0; }
    .label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: #ccccdc; }
    .bar { height: 12px; background: #73bf69; border-radius: 2px; }
    .value { text-align: right; font-variant-numeric: tabular-nums; }
    .stat { font-size: 26px; color: #73bf69; }
  </style>
  <h1>Payguard: live /metrics</h1>
  <p>Scraped from a running instance at ${at} after sandbox traffic (single payments, duplicate payments, expiries, late payments, a provider outage). Oldest open refund: <span class="stat">${oldest.toFixed(0)} s</span> · sweep runs: ${runs}</p>
  <div class="grid">${panels.map(([title, rows, unit]) => panel(title, rows, unit)).join('')}</div>`;
}

function panel(title, rows, unit) {
  const max = Math.max(1, ...rows.map(([, value]) => value));
  const colour = (label) => (/unavailable|error|failed|duplicate|after|mismatch/.test(label) ? '#f2495c' : '#73bf69');
  return `<div class="panel"><h2>${title}</h2>${rows
    .map(
      ([label, value]) =>
        `<div class="row"><span class="label" title="${label}">${label}</span><span><div class="bar" style="width:${Math.max(1, (value / max) * 100)}%;background:${colour(label)}"></div></span><span class="value">${Number.isInteger(value) ? value : value.toFixed(1)}${unit}</span></div>`,
    )
    .join('')}</div>`;
}

/** histogram_quantile over cumulative buckets (le -> count), linear within a bucket as Prometheus does. */
function quantile(q, buckets) {
  const sorted = [...buckets].map(([le, count]) => [le === '+Inf' ? Infinity : Number(le), count]).sort((a, b) => a[0] - b[0]);
  const total = sorted[sorted.length - 1][1];
  if (total === 0) return 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) return le === Infinity ? lower : lower + ((le - lower) * (rank - below)) / Math.max(1, count - below);
    lower = le;
    below = count;
  }
  return lower;
}
