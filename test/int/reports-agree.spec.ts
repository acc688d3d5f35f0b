/**
 * The reports agree with totals computed independently, straight from the raw log, for a
 * realistic log (duplicates, late payments, failed refunds, expiries, closes) on every pairing of
 * event store and projection store the service uses.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillLog } from '../../bench/event-log.js';
import type { EventStore, RecordedEvent } from '../../src/application/ports/event-store.port.js';
import type { ProjectionStore } from '../../src/application/ports/projection-store.port.js';
import { ProjectionRunner } from '../../src/application/reporting/projection-runner.js';
import { ReportDays } from '../../src/application/reporting/report-days.js';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { PostgresEventStore } from '../../src/infrastructure/event-store/postgres.event-store.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { MemoryProjectionStore } from '../../src/infrastructure/projections/memory.projection-store.js';
import { PostgresProjectionStore } from '../../src/infrastructure/projections/postgres.projection-store.js';
import { SqliteProjectionStore } from '../../src/infrastructure/projections/sqlite.projection-store.js';
import { appendInOrder } from '../support/fixture-store.js';
import { DATABASE_URL, dropSchema, postgresUnreachable } from '../support/postgres.js';

const unreachable = await postgresUnreachable();
const EVENTS = 3000;

interface Pairing {
  readonly events: EventStore;
  readonly projections: ProjectionStore;
  close(): Promise<void>;
}

const pairings: [string, () => Promise<Pairing>][] = [
  ['memory', async () => ({ events: new MemoryEventStore(), projections: new MemoryProjectionStore(), close: async () => undefined })],
  [
    'SQLite (one file, one connection)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'payguard-reports-'));
      const events = new SqliteEventStore({ file: join(dir, 'payguard.db') });
      return {
        events,
        projections: new SqliteProjectionStore(events.database),
        close: async () => {
          await events.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
  ...(unreachable === null
    ? [
        [
          'PostgreSQL (one schema)',
          async () => {
            const schema = `payguard_reports_${randomBytes(4).toString('hex')}`;
            const events = await PostgresEventStore.open({ connectionString: DATABASE_URL, schema });
            const projections = await PostgresProjectionStore.open({ connectionString: DATABASE_URL, schema });
            return {
              events,
              projections,
              close: async () => {
                await projections.close();
                await events.close();
                await dropSchema(schema);
              },
            };
          },
        ] as [string, () => Promise<Pairing>],
      ]
    : []),
];

describe.each(pairings)('the reports on %s', (_name, open) => {
  let pairing: Pairing;
  let log: RecordedEvent[];
  beforeAll(async () => {
    pairing = await open();
    if (pairing.events instanceof PostgresEventStore) {
      // fillLog queues appends without awaiting each (SQLite commits them in call order); a pool does not.
      const source = new MemoryEventStore();
      await fillLog(source, EVENTS, { seed: 7, inFlight: 40, appendsPerCommit: 200 });
      await appendInOrder(pairing.events, await source.readAll(0, 1_000_000));
    } else {
      await fillLog(pairing.events, EVENTS, { seed: 7, inFlight: 40, appendsPerCommit: 200 });
    }
    // Applied in uneven batches, as a follower that restarts now and then would.
    // Days in UTC here, so that the log's own timestamps (their first ten characters) are the oracle.
    const runner = new ProjectionRunner(pairing.projections, new ReportDays('UTC'));
    await runner.load();
    for (let after = 0; ; ) {
      const batch = await pairing.events.readAll(after, 173);
      if (batch.length === 0) break;
      await runner.apply(batch);
      after = batch[batch.length - 1].position;
    }
    log = await pairing.events.readAll(0, 1_000_000);
  }, 120_000);
  afterAll(() => pairing?.close());

  it('settle by UTC day, channel and currency exactly the money the log captured and refunded', async () => {
    const expected = new Map<string, { captured: number; capturedCount: number; refunded: number; refundedCount: number }>();
    const channelOf = new Map<string, string>();
    const add = (key: string, captured: number, refunded: number) => {
      const row = expected.get(key) ?? { captured: 0, capturedCount: 0, refunded: 0, refundedCount: 0 };
      row.captured += captured;
      row.capturedCount += captured > 0 ? 1 : 0;
      row.refunded += refunded;
      row.refundedCount += refunded > 0 ? 1 : 0;
      expected.set(key, row);
    };
    for (const { type, data } of log) {
      if (type === 'PaymentInitiated') channelOf.set(data.paymentId as string, data.channel as string);
      if (type === 'PaymentSucceeded') add(`${String(data.paidAt).slice(0, 10)}|${data.channel}|${data.currency}`, data.amount as number, 0);
      if (type === 'RefundSucceeded') {
        add(`${String(data.completedAt).slice(0, 10)}|${channelOf.get(data.paymentId as string)}|${data.currency}`, 0, data.amount as number);
      }
    }

    const rows = await pairing.projections.settlement({});

    expect(expected.size).toBeGreaterThan(2);
    // Settlement sums are exact decimal strings (they may pass 2^53).
    expect(Object.fromEntries(rows.map((r) => [`${r.day}|${r.channel}|${r.currency}`, { captured: r.capturedAmount, capturedCount: r.capturedCount, refunded: r.refundedAmount, refundedCount: r.refundedCount }]))).toEqual(
      Object.fromEntries([...expected].map(([key, row]) => [key, { ...row, captured: String(row.captured), refunded: String(row.refunded) }])),
    );
  });

  it('list every order with the status, payer, attempts, anomalies and refunds the log gives it', async () => {
    const expected = new Map<string, { status: string; paidBy: string | null; payments: number; anomalies: number; refundedAmount: number; merchantId: unknown }>();
    for (const { type, data } of log) {
      const id = data.orderId as string;
      const order = expected.get(id);
      if (type === 'OrderPlaced') expected.set(id, { status: 'pending', paidBy: null, payments: 0, anomalies: 0, refundedAmount: 0, merchantId: data.merchantId });
      else if (order === undefined) continue;
      else if (type === 'PaymentAttemptStarted') order.payments++;
      else if (type === 'OrderPaid') Object.assign(order, { status: 'paid', paidBy: data.paymentId });
      else if (type === 'OrderExpired') order.status = 'expired';
      else if (type === 'OrderClosed') order.status = 'closed';
      else if (type === 'AnomalyDetected') order.anomalies++;
      else if (type === 'RefundSucceeded') order.refundedAmount += data.amount as number;
    }

    const rows = await pairing.projections.orders({ limit: 100_000 });

    expect(rows.length).toBe(expected.size);
    expect(Object.fromEntries(rows.map(({ orderId, status, paidBy, payments, anomalies, refundedAmount, merchantId }) => [orderId, { status, paidBy, payments, anomalies, refundedAmount, merchantId }]))).toEqual(
      Object.fromEntries(expected),
    );
    for (const status of ['pending', 'paid', 'expired', 'closed'] as const) {
      expect((await pairing.projections.orders({ status, limit: 100_000 })).length).toBe([...expected.values()].filter((o) => o.status === status).length);
    }
  });

  it('show every anomaly with its kind and how its refund went', async () => {
    const expected = new Map<string, { kind: string; refundStatus: string; refundFailures: number }>();
    for (const { type, data } of log) {
      const id = data.paymentId as string;
      if (type === 'AnomalyDetected') expected.set(id, { kind: data.kind as string, refundStatus: 'none', refundFailures: 0 });
      const anomaly = expected.get(id);
      if (anomaly === undefined) continue;
      if (type === 'RefundRequested') anomaly.refundStatus = 'requested';
      if (type === 'RefundFailed') Object.assign(anomaly, { refundStatus: 'failed', refundFailures: anomaly.refundFailures + 1 });
      if (type === 'RefundSucceeded') anomaly.refundStatus = 'succeeded';
    }

    const rows = await pairing.projections.anomalies({ limit: 100_000 });

    expect(expected.size).toBeGreaterThan(10);
    expect(Object.fromEntries(rows.map(({ paymentId, kind, refundStatus, refundFailures }) => [paymentId, { kind, refundStatus, refundFailures }]))).toEqual(
      Object.fromEntries(expected),
    );
  });
});
