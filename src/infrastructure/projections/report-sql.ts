/**
 * The SQL of the reporting projections, shared by the SQLite and PostgreSQL adapters: the same
 * statements (written with `?` placeholders; PostgreSQL gets them numbered by `numbered`) over
 * the same tables, so the two adapters can't drift apart. Times are ISO 8601 UTC text (their
 * text order is their time order), money integer minor units.
 */
import type {
  CapturedChange,
  AnomaliesQuery,
  AnomalyRow,
  OrderRow,
  OrdersQuery,
  ProjectionName,
  ReportChange,
  ReportTable,
  SettlementQuery,
  SettlementRow,
} from '../../application/ports/projection-store.port.js';

/** A statement and its parameters, as one change or query needs it. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** Deleted by a reset of each projection. */
export const TABLES_OF_PROJECTION: Readonly<Record<ProjectionName, readonly string[]>> = {
  orders: ['report_orders'],
  anomalies: ['report_anomalies'],
  settlement: ['report_settlement', 'report_settlement_captures'],
};

/** `$1, $2, ...` for PostgreSQL, from `?` in order. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** The statements for tables named by `t` (bare for SQLite, schema-qualified for PostgreSQL). */
export function reportStatements(t: (table: string) => string) {
  const orders = t('report_orders');
  const anomalies = t('report_anomalies');
  const settlement = t('report_settlement');
  const captures = t('report_settlement_captures');
  const checkpoints = t('report_checkpoints');
  const settle = (set: string) =>
    `ON CONFLICT (day, channel, currency) DO UPDATE SET ${set}`;
  return {
    checkpoints: `SELECT name, position, version FROM ${checkpoints}`,
    checkpointOf: `SELECT position FROM ${checkpoints} WHERE name = ?`,
    ensureCheckpoint: `INSERT INTO ${checkpoints} (name, position, version) VALUES (?, 0, 0) ON CONFLICT (name) DO NOTHING`,
    setCheckpoint: `UPDATE ${checkpoints} SET position = ? WHERE name = ?`,
    resetCheckpoint: `UPDATE ${checkpoints} SET position = 0, version = ? WHERE name = ?`,
    /** A change, by kind (and whether it creates its row): see `changeStatement`. */
    orderCreate: `INSERT INTO ${orders} AS o (order_id, merchant_id, status, amount, currency, created_at, expires_at, ended_at, paid_by, payments, anomalies, refunded_amount)
                  VALUES (?, ?, coalesce(?, 'pending'), ?, ?, ?, ?, ?, ?, ?, ?, ?)
                  ON CONFLICT (order_id) DO UPDATE SET
                    payments = o.payments + excluded.payments,
                    anomalies = o.anomalies + excluded.anomalies,
                    refunded_amount = o.refunded_amount + excluded.refunded_amount,
                    status = CASE WHEN excluded.ended_at IS NULL THEN o.status ELSE excluded.status END,
                    paid_by = CASE WHEN excluded.ended_at IS NULL THEN o.paid_by ELSE excluded.paid_by END,
                    ended_at = coalesce(excluded.ended_at, o.ended_at)`,
    orderUpdate: `UPDATE ${orders} SET
                    payments = payments + ?, anomalies = anomalies + ?, refunded_amount = refunded_amount + ?,
                    status = coalesce(?, status), ended_at = coalesce(?, ended_at),
                    paid_by = CASE WHEN CAST(? AS TEXT) IS NULL THEN paid_by ELSE ? END
                  WHERE order_id = ?`,
    anomalyCreate: `INSERT INTO ${anomalies} AS a (payment_id, order_id, kind, detected_at, refund_status, refund_requested_at, amount, currency, refund_failures, refund_completed_at)
                    VALUES (?, ?, ?, ?, coalesce(?, 'none'), ?, ?, ?, ?, ?)
                    ON CONFLICT (payment_id) DO UPDATE SET
                      refund_status = CASE WHEN excluded.refund_status = 'none' THEN a.refund_status ELSE excluded.refund_status END,
                      refund_requested_at = coalesce(excluded.refund_requested_at, a.refund_requested_at),
                      amount = coalesce(excluded.amount, a.amount),
                      currency = coalesce(excluded.currency, a.currency),
                      refund_failures = a.refund_failures + excluded.refund_failures,
                      refund_completed_at = coalesce(excluded.refund_completed_at, a.refund_completed_at)`,
    anomalyUpdate: `UPDATE ${anomalies} SET
                      refund_status = coalesce(?, refund_status), refund_requested_at = coalesce(?, refund_requested_at),
                      amount = coalesce(?, amount), currency = coalesce(?, currency),
                      refund_failures = refund_failures + ?, refund_completed_at = coalesce(?, refund_completed_at)
                    WHERE payment_id = ?`,
    /** Run for each capture; the settlement row moves only by the captures this inserted (a payment is captured once). */
    captured: `INSERT INTO ${captures} (payment_id, channel, currency, amount) VALUES (?, ?, ?, ?) ON CONFLICT (payment_id) DO NOTHING`,
    refunded: `INSERT INTO ${settlement} AS s (day, channel, currency, captured_amount, captured_count, refunded_amount, refunded_count)
               VALUES (?, coalesce((SELECT channel FROM ${captures} WHERE payment_id = ?), 'unknown'), ?, 0, 0, ?, 1)
               ${settle('refunded_amount = s.refunded_amount + excluded.refunded_amount, refunded_count = s.refunded_count + 1')}`,
    /** The new captures of one settlement row in a batch, added at once. */
    settleCaptures: `INSERT INTO ${settlement} AS s (day, channel, currency, captured_amount, captured_count, refunded_amount, refunded_count)
                     VALUES (?, ?, ?, ?, ?, 0, 0)
                     ${settle('captured_amount = s.captured_amount + excluded.captured_amount, captured_count = s.captured_count + excluded.captured_count')}`,
    orders: (query: OrdersQuery): Statement => {
      const where = new Where();
      where.add('status = ?', query.status);
      where.add('merchant_id = ?', query.merchantId);
      where.add('created_at >= ?', query.from);
      where.add('created_at < ?', query.to);
      if (query.after) where.addAll('(created_at, order_id) < (?, ?)', [query.after.at, query.after.id]);
      return {
        sql: `SELECT ${ORDER_COLUMNS} FROM ${orders}${where.sql} ORDER BY created_at DESC, order_id DESC LIMIT ?`,
        params: [...where.params, query.limit],
      };
    },
    anomalies: (query: AnomaliesQuery): Statement => {
      const where = new Where();
      where.add('kind = ?', query.kind);
      where.add('detected_at >= ?', query.from);
      where.add('detected_at < ?', query.to);
      if (query.after) where.addAll('(detected_at, payment_id) < (?, ?)', [query.after.at, query.after.id]);
      return {
        sql: `SELECT ${ANOMALY_COLUMNS} FROM ${anomalies}${where.sql} ORDER BY detected_at DESC, payment_id DESC LIMIT ?`,
        params: [...where.params, query.limit],
      };
    },
    settlement: (query: SettlementQuery): Statement => {
      const where = new Where();
      where.add('day >= ?', query.fromDay);
      where.add('day <= ?', query.toDay);
      return { sql: `SELECT ${SETTLEMENT_COLUMNS} FROM ${settlement}${where.sql} ORDER BY day, channel, currency`, params: where.params };
    },
    rows: (table: ReportTable, afterKey: string | null, limit: number): Statement => {
      const { name, key, columns } = {
        orders: { name: orders, key: 'order_id', columns: ORDER_COLUMNS },
        anomalies: { name: anomalies, key: 'payment_id', columns: ANOMALY_COLUMNS },
        settlement: { name: settlement, key: `day || '|' || channel || '|' || currency`, columns: SETTLEMENT_COLUMNS },
        'settlement-captures': { name: captures, key: 'payment_id', columns: 'payment_id, channel, currency, amount' },
      }[table];
      return { sql: `SELECT ${key} AS row_key, ${columns} FROM ${name} WHERE ${key} > ? ORDER BY ${key} LIMIT ?`, params: [afterKey ?? '', limit] };
    },
  };
}

export type ReportStatements = ReturnType<typeof reportStatements>;

/** The statement of a change and its parameters. */
export function changeStatement(sql: ReportStatements, change: ReportChange): Statement {
  switch (change.kind) {
    case 'order': {
      const { orderId, placed, paymentsAdded, anomaliesAdded, refundedAdded, ended } = change;
      if (placed === null) {
        return {
          sql: sql.orderUpdate,
          params: [paymentsAdded, anomaliesAdded, refundedAdded, ended?.status ?? null, ended?.at ?? null, ended?.at ?? null, ended?.paidBy ?? null, orderId],
        };
      }
      const { merchantId, amount, currency, createdAt, expiresAt } = placed;
      return {
        sql: sql.orderCreate,
        params: [orderId, merchantId, ended?.status ?? null, amount, currency, createdAt, expiresAt, ended?.at ?? null, ended?.paidBy ?? null, paymentsAdded, anomaliesAdded, refundedAdded],
      };
    }
    case 'anomaly': {
      const { paymentId, detected, refundStatus, refundRequested, refundFailuresAdded, refundCompletedAt } = change;
      const refund = [refundStatus, refundRequested?.at ?? null, refundRequested?.amount ?? null, refundRequested?.currency ?? null];
      if (detected === null) return { sql: sql.anomalyUpdate, params: [...refund, refundFailuresAdded, refundCompletedAt, paymentId] };
      return {
        sql: sql.anomalyCreate,
        params: [paymentId, detected.orderId, detected.anomalyKind, detected.detectedAt, ...refund, refundFailuresAdded, refundCompletedAt],
      };
    }
    case 'captured':
      return { sql: sql.captured, params: [change.paymentId, change.channel, change.currency, change.amount] };
    case 'refunded':
      return { sql: sql.refunded, params: [change.day, change.paymentId, change.currency, change.amount] };
  }
}

/** Sums the captures a batch inserted, per settlement row, for `settleCaptures`. */
export class CaptureTotals {
  private readonly rows = new Map<string, { day: string; channel: string; currency: string; amount: number; count: number }>();

  add(change: CapturedChange): void {
    const key = `${change.day}|${change.channel}|${change.currency}`;
    const row = this.rows.get(key) ?? { day: change.day, channel: change.channel, currency: change.currency, amount: 0, count: 0 };
    row.amount += change.amount;
    row.count += 1;
    this.rows.set(key, row);
  }

  /** Parameters of `settleCaptures`, one row each. */
  params(): unknown[][] {
    return [...this.rows.values()].map(({ day, channel, currency, amount, count }) => [day, channel, currency, amount, count]);
  }
}

const ORDER_COLUMNS =
  'order_id, merchant_id, status, amount, currency, created_at, expires_at, ended_at, paid_by, payments, anomalies, refunded_amount';
const ANOMALY_COLUMNS =
  'payment_id, order_id, kind, detected_at, refund_status, refund_requested_at, refund_completed_at, refund_failures, amount, currency';
const SETTLEMENT_COLUMNS = 'day, channel, currency, captured_amount, captured_count, refunded_amount, refunded_count';

type Row = Record<string, unknown>;
/** PostgreSQL gives bigint as a string; SQLite gives a number. */
const int = (value: unknown): number => Number(value);
const intOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export function toOrderRow(r: Row): OrderRow {
  return {
    orderId: r.order_id as string,
    merchantId: r.merchant_id as string | null,
    status: r.status as OrderRow['status'],
    amount: int(r.amount),
    currency: r.currency as string,
    createdAt: r.created_at as string,
    expiresAt: r.expires_at as string,
    endedAt: r.ended_at as string | null,
    paidBy: r.paid_by as string | null,
    payments: int(r.payments),
    anomalies: int(r.anomalies),
    refundedAmount: int(r.refunded_amount),
  };
}

export function toAnomalyRow(r: Row): AnomalyRow {
  return {
    paymentId: r.payment_id as string,
    orderId: r.order_id as string,
    kind: r.kind as AnomalyRow['kind'],
    detectedAt: r.detected_at as string,
    refundStatus: r.refund_status as AnomalyRow['refundStatus'],
    refundRequestedAt: r.refund_requested_at as string | null,
    refundCompletedAt: r.refund_completed_at as string | null,
    refundFailures: int(r.refund_failures),
    amount: intOrNull(r.amount),
    currency: r.currency as string | null,
  };
}

export function toSettlementRow(r: Row): SettlementRow {
  return {
    day: r.day as string,
    channel: r.channel as string,
    currency: r.currency as string,
    capturedAmount: int(r.captured_amount),
    capturedCount: int(r.captured_count),
    refundedAmount: int(r.refunded_amount),
    refundedCount: int(r.refunded_count),
  };
}

/** A row of `table` in the same shape whichever adapter read it. */
export function toTableRow(table: ReportTable, r: Row): Record<string, unknown> {
  switch (table) {
    case 'orders':
      return { ...toOrderRow(r) };
    case 'anomalies':
      return { ...toAnomalyRow(r) };
    case 'settlement':
      return { ...toSettlementRow(r) };
    case 'settlement-captures':
      return { paymentId: r.payment_id, channel: r.channel, currency: r.currency, amount: int(r.amount) };
  }
}

class Where {
  private readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  add(clause: string, value: unknown): void {
    if (value !== undefined) this.addAll(clause, [value]);
  }

  addAll(clause: string, values: readonly unknown[]): void {
    this.clauses.push(clause);
    this.params.push(...values);
  }

  get sql(): string {
    return this.clauses.length === 0 ? '' : ` WHERE ${this.clauses.join(' AND ')}`;
  }
}
