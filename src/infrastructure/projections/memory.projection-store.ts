import {
  PROJECTION_NAMES,
  ProjectionOutOfStepError,
  type AnomaliesQuery,
  type AnomalyRow,
  type KeyedRow,
  type OrderRow,
  type OrdersQuery,
  type PageAfter,
  type ProjectionCheckpoint,
  type ProjectionName,
  type ProjectionStore,
  type ProjectionUpdate,
  type ReportChange,
  type ReportTable,
  type SettlementQuery,
  type SettlementRow,
} from '../../application/ports/projection-store.port.js';
import { SettlementTotals, orderIdOfRow, settlementKey } from './report-sql.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Tables {
  orders: Map<string, Mutable<OrderRow>>;
  anomalies: Map<string, Mutable<AnomalyRow>>;
  settlement: Map<string, Mutable<SettlementRow>>;
  captures: Map<string, { paymentId: string; channel: string; currency: string; amount: number }>;
}

/**
 * The projections in process memory, for tests and EVENT_STORE=memory. Same semantics as the SQL
 * adapters: a call to apply is all or nothing, and rows are copied on the way out.
 */
export class MemoryProjectionStore implements ProjectionStore {
  private readonly tables: Tables = { orders: new Map(), anomalies: new Map(), settlement: new Map(), captures: new Map() };
  private readonly checkpointsByName = new Map<ProjectionName, ProjectionCheckpoint>(
    PROJECTION_NAMES.map((name) => [name, { position: 0, version: 0, settings: '' }]),
  );

  async checkpoints(): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    return Object.fromEntries([...this.checkpointsByName].map(([name, checkpoint]) => [name, { ...checkpoint }])) as Record<
      ProjectionName,
      ProjectionCheckpoint
    >;
  }

  async apply(updates: readonly ProjectionUpdate[]): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    const due = updates.filter((update) => {
      const stored = this.checkpointsByName.get(update.projection)!.position;
      if (stored >= update.position) return false;
      if (stored !== update.after) throw new ProjectionOutOfStepError(update.projection, update.after, stored);
      return true;
    });
    // Every check is made before the first change, and applying a change can't fail: all or nothing.
    for (const update of due) {
      const settlement = new SettlementTotals();
      for (const change of update.changes) applyChange(this.tables, change, settlement);
      // The same exact sums as the SQL adapters': each touched row, as stored, plus the batch.
      for (const key of settlement.keys()) {
        const row = settlement.settled(key, this.tables.settlement.get(settlementKey(key)) ?? null);
        this.tables.settlement.set(settlementKey(key), { ...row });
      }
    }
    for (const update of due) {
      const stored = this.checkpointsByName.get(update.projection)!;
      this.checkpointsByName.set(update.projection, { ...stored, position: update.position });
    }
    return this.checkpoints();
  }

  async reset(projection: ProjectionName, version: number, settings: string): Promise<void> {
    if (projection === 'orders') this.tables.orders.clear();
    if (projection === 'anomalies') this.tables.anomalies.clear();
    if (projection === 'settlement') {
      this.tables.settlement.clear();
      this.tables.captures.clear();
    }
    this.checkpointsByName.set(projection, { position: 0, version, settings });
  }

  async orders(query: OrdersQuery): Promise<OrderRow[]> {
    const rows = [...this.tables.orders.values()].filter(
      (row) =>
        (query.status === undefined || row.status === query.status) &&
        (query.merchantId === undefined || row.merchantId === query.merchantId) &&
        within(row.createdAt, query.from, query.to) &&
        before(row.createdAt, row.orderKey, query.after),
    );
    return newestFirst(rows, (row) => [row.createdAt, row.orderKey])
      .slice(0, query.limit)
      .map((row) => ({ ...row }));
  }

  async anomalies(query: AnomaliesQuery): Promise<AnomalyRow[]> {
    const rows = [...this.tables.anomalies.values()].filter(
      (row) =>
        (query.kind === undefined || row.kind === query.kind) &&
        within(row.detectedAt, query.from, query.to) &&
        before(row.detectedAt, row.paymentId, query.after),
    );
    return newestFirst(rows, (row) => [row.detectedAt, row.paymentId])
      .slice(0, query.limit)
      .map((row) => ({ ...row }));
  }

  async settlement(query: SettlementQuery): Promise<SettlementRow[]> {
    return [...this.tables.settlement.values()]
      .filter((row) => (query.fromDay === undefined || row.day >= query.fromDay) && (query.toDay === undefined || row.day <= query.toDay))
      .sort((a, b) => compare(settlementKey(a), settlementKey(b)))
      .map((row) => ({ ...row }));
  }

  async rows(table: ReportTable, afterKey: string | null, limit: number): Promise<KeyedRow[]> {
    const source: Map<string, object> =
      table === 'orders'
        ? this.tables.orders
        : table === 'anomalies'
          ? this.tables.anomalies
          : table === 'settlement'
            ? this.tables.settlement
            : this.tables.captures;
    return [...source.entries()]
      .filter(([key]) => afterKey === null || key > afterKey)
      .sort(([a], [b]) => compare(a, b))
      .slice(0, limit)
      .map(([key, row]) => ({ key, row: { ...row } }));
  }

  async close(): Promise<void> {}
}

/** Applies one change with the SQL adapters' semantics (report-sql.ts); `settlement` sums the captures it inserts and the refunds. */
function applyChange(tables: Tables, change: ReportChange, settlement: SettlementTotals): void {
  switch (change.kind) {
    case 'order': {
      const legacy = change.legacy ?? null;
      const legacyRow = legacy === null ? undefined : tables.orders.get(legacy.orderId);
      let row = tables.orders.get(change.orderId) ?? (legacyRow?.merchantId === legacy?.merchantId ? legacyRow : undefined);
      if (row === undefined) {
        if (change.placed === null) return;
        const { merchantId } = change.placed;
        row = {
          orderId: orderIdOfRow(change.orderId, merchantId),
          orderKey: change.orderId,
          ...change.placed,
          status: 'pending',
          endedAt: null,
          paidBy: null,
          payments: 0,
          anomalies: 0,
          refundedAmount: 0,
        };
        tables.orders.set(change.orderId, row);
      }
      row.payments += change.paymentsAdded;
      row.anomalies += change.anomaliesAdded;
      row.refundedAmount += change.refundedAdded;
      if (change.ended !== null) {
        row.status = change.ended.status;
        row.endedAt = change.ended.at;
        row.paidBy = change.ended.paidBy;
      }
      return;
    }
    case 'anomaly': {
      let row = tables.anomalies.get(change.paymentId);
      if (row === undefined) {
        if (change.detected === null) return;
        const { orderId, anomalyKind: kind, detectedAt } = change.detected;
        row = { paymentId: change.paymentId, orderId, kind, detectedAt, refundStatus: 'none', refundRequestedAt: null, refundCompletedAt: null, refundFailures: 0, amount: null, currency: null };
        tables.anomalies.set(change.paymentId, row);
      }
      if (change.refundStatus !== null) row.refundStatus = change.refundStatus;
      if (change.refundRequested !== null) {
        row.refundRequestedAt = change.refundRequested.at;
        row.amount = change.refundRequested.amount;
        row.currency = change.refundRequested.currency;
      }
      row.refundFailures += change.refundFailuresAdded;
      if (change.refundCompletedAt !== null) row.refundCompletedAt = change.refundCompletedAt;
      return;
    }
    case 'captured': {
      if (tables.captures.has(change.paymentId)) return;
      const { paymentId, channel, currency, amount } = change;
      tables.captures.set(paymentId, { paymentId, channel, currency, amount });
      settlement.captured(change);
      return;
    }
    case 'refunded':
      return settlement.refunded(change, tables.captures.get(change.paymentId)?.channel ?? null);
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function within(at: string, from: string | undefined, to: string | undefined): boolean {
  return (from === undefined || at >= from) && (to === undefined || at < to);
}

/** Strictly after the page cursor in newest-first order. */
function before(at: string, id: string, after: PageAfter | undefined): boolean {
  return after === undefined || at < after.at || (at === after.at && id < after.id);
}

function newestFirst<T>(rows: T[], key: (row: T) => [string, string]): T[] {
  return rows.sort((a, b) => {
    const [atA, idA] = key(a);
    const [atB, idB] = key(b);
    return compare(atB, atA) || compare(idB, idA);
  });
}
