import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KeyedRow, ProjectionStore, ReportTable } from '../../src/application/ports/projection-store.port.js';
import { ProjectionRunner } from '../../src/application/reporting/projection-runner.js';
import { mergeChanges } from '../../src/application/reporting/report-changes.js';
import { ReportDays } from '../../src/application/reporting/report-days.js';
import { MemoryProjectionStore } from '../../src/infrastructure/projections/memory.projection-store.js';
import { readFixture } from '../support/fixture-store.js';

const TABLES: ReportTable[] = ['orders', 'anomalies', 'settlement', 'settlement-captures'];
const fixtures = readdirSync(fileURLToPath(new URL('../fixtures/audit/', import.meta.url)))
  .filter((file) => file.endsWith('.ndjson'))
  .map((file) => `audit/${file.replace(/\.ndjson$/, '')}`)
  .concat(['schema-v0']);

async function rowsOf(store: ProjectionStore): Promise<Record<string, KeyedRow[]>> {
  return Object.fromEntries(await Promise.all(TABLES.map(async (table) => [table, await store.rows(table, null, 10_000)])));
}

/** Applies `fixture` to fresh projections in batches of `size`. */
async function project(fixture: string, size: number): Promise<Record<string, KeyedRow[]>> {
  const store = new MemoryProjectionStore();
  const runner = new ProjectionRunner(store, new ReportDays('Asia/Shanghai'));
  await runner.load();
  const events = readFixture(fixture);
  for (let i = 0; i < events.length; i += size) await runner.apply(events.slice(i, i + size));
  return rowsOf(store);
}

describe('the reporting projections', () => {
  it.each(fixtures)('give the same rows whatever the batches, event by event or all at once (%s, broken logs included)', async (fixture) => {
    const oneByOne = await project(fixture, 1);

    expect(await project(fixture, 7)).toEqual(oneByOne);
    expect(await project(fixture, 1000)).toEqual(oneByOne);
    expect(oneByOne.orders.length).toBeGreaterThan(0);
  });
});

describe('merging the changes of a batch', () => {
  it("makes one change per row, with the counters added up and the latest end kept", () => {
    const order = (change: object) => ({ kind: 'order' as const, orderId: 'o1', legacy: null, placed: null, paymentsAdded: 0, anomaliesAdded: 0, refundedAdded: 0, ended: null, ...change });
    const placed = { merchantId: null, amount: 5, currency: 'CNY', createdAt: 't0', expiresAt: 't9' };

    const merged = mergeChanges([
      order({ placed }),
      order({ paymentsAdded: 1 }),
      { kind: 'captured', paymentId: 'p1', channel: 'bank', currency: 'CNY', amount: 5, day: '2026-11-20' },
      order({ paymentsAdded: 1, ended: { status: 'paid', at: 't3', paidBy: 'p1' } }),
      order({ anomaliesAdded: 1 }),
    ]);

    expect(merged).toEqual([
      order({ placed, paymentsAdded: 2, anomaliesAdded: 1, ended: { status: 'paid', at: 't3', paidBy: 'p1' } }),
      { kind: 'captured', paymentId: 'p1', channel: 'bank', currency: 'CNY', amount: 5, day: '2026-11-20' },
    ]);
  });

  it('does not fold updates made before a row was created into its creation', () => {
    const order = (change: object) => ({ kind: 'order' as const, orderId: 'o1', legacy: null, placed: null, paymentsAdded: 0, anomaliesAdded: 0, refundedAdded: 0, ended: null, ...change });
    const placed = { merchantId: null, amount: 5, currency: 'CNY', createdAt: 't0', expiresAt: 't9' };

    expect(mergeChanges([order({ paymentsAdded: 1 }), order({ placed }), order({ paymentsAdded: 1 })])).toEqual([
      order({ paymentsAdded: 1 }),
      order({ placed, paymentsAdded: 1 }),
    ]);
  });
});
