/**
 * The SQL of the reporting projections, shared by the SQLite and PostgreSQL adapters: the same
 * statements (written with `?` placeholders; PostgreSQL gets them numbered by `numbered`) over
 * the same tables, so the two adapters can't drift apart. Times are ISO 8601 UTC text (their
 * text order is their time order), money integer minor units; the settlement's sums are exact
 * decimals (SQLite TEXT, PostgreSQL numeric), added up here with BigInt, never in floats.
 */
import { sumMinorUnits } from '../../domain/shared/money.js';
import type {
  CapturedChange,
  AnomaliesQuery,
  AnomalyRow,
  OrderRow,
  OrdersQuery,
  ProjectionName,
  RefundedChange,
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
  return {
    checkpoints: `SELECT name, position, version, settings FROM ${checkpoints}`,
    checkpointOf: `SELECT position FROM ${checkpoints} WHERE name = ?`,
    ensureCheckpoint: `INSERT INTO ${checkpoints} (name, position, version) VALUES (?, 0, 0) ON CONFLICT (name) DO NOTHING`,
    setCheckpoint: `UPDATE ${checkpoints} SET position = ? WHERE name = ?`,
    resetCheckpoint: `UPDATE ${checkpoints} SET position = 0, version = ?, settings = ? WHERE name = ?`,
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
                  WHERE order_id = ? OR (order_id = ? AND merchant_id = ?)`,
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
    /** The channel that captured a payment (a refund counts on it). */
    channelOfCapture: `SELECT channel FROM ${captures} WHERE payment_id = ?`,
    /** One settlement row as stored, read before its new sums are written (see SettlementTotals). */
    settlementRow: `SELECT ${SETTLEMENT_COLUMNS} FROM ${settlement} WHERE day = ? AND channel = ? AND currency = ?`,
    /**
     * Writes a settlement row's new sums, computed exactly by SettlementTotals from the stored row
     * and the batch: SQL arithmetic would overflow (SQLite's integers at 2^63, into floats).
     */
    settle: `INSERT INTO ${settlement} (day, channel, currency, captured_amount, captured_count, refunded_amount, refunded_count)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (day, channel, currency) DO UPDATE SET
               captured_amount = excluded.captured_amount, captured_count = excluded.captured_count,
               refunded_amount = excluded.refunded_amount, refunded_count = excluded.refunded_count`,
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

/**
 * The statement of a change and its parameters. Refunds have none of their own: SettlementTotals
 * sums them (on the channel of their capture, `channelOfCapture`) and `settle` writes the rows.
 */
export function changeStatement(sql: ReportStatements, change: Exclude<ReportChange, RefundedChange>): Statement {
  switch (change.kind) {
    case 'order': {
      const { orderId, legacy, placed, paymentsAdded, anomaliesAdded, refundedAdded, ended } = change;
      if (placed === null) {
        // The row of the order's key, or (from a payment's event) that merchant's order from before ids were scoped: never both.
        const legacyRow = [legacy?.orderId ?? null, legacy?.merchantId ?? null];
        return {
          sql: sql.orderUpdate,
          params: [paymentsAdded, anomaliesAdded, refundedAdded, ended?.status ?? null, ended?.at ?? null, ended?.at ?? null, ended?.paidBy ?? null, orderId, ...legacyRow],
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
  }
}

/** What a batch adds to one settlement row. */
interface SettlementDelta {
  readonly day: string;
  readonly channel: string;
  readonly currency: string;
  capturedAmount: bigint;
  capturedCount: number;
  refundedAmount: bigint;
  refundedCount: number;
}

/**
 * The money a batch moves, per settlement row (day, channel, currency): the captures it inserted
 * (a payment counts once) and its refunds, on the channel that captured the payment (`unknown`
 * when none did). Summed with BigInt, so a row stays exact whatever its size; `settled` adds a
 * row's delta to the row as stored and gives the new row to write with `settle`.
 */
export class SettlementTotals {
  private readonly deltas = new Map<string, SettlementDelta>();

  captured(change: CapturedChange): void {
    const delta = this.delta(change.day, change.channel, change.currency);
    delta.capturedAmount += BigInt(change.amount);
    delta.capturedCount += 1;
  }

  refunded(change: RefundedChange, captureChannel: string | null): void {
    const delta = this.delta(change.day, captureChannel ?? 'unknown', change.currency);
    delta.refundedAmount += BigInt(change.amount);
    delta.refundedCount += 1;
  }

  /** The rows touched, as keys for reading them as stored. */
  keys(): { day: string; channel: string; currency: string }[] {
    return [...this.deltas.values()].map(({ day, channel, currency }) => ({ day, channel, currency }));
  }

  /** The new row: the stored one (null: none yet) plus what this batch adds to it. */
  settled(key: { day: string; channel: string; currency: string }, stored: SettlementRow | null): SettlementRow {
    const delta = this.deltas.get(settlementKey(key))!;
    return {
      day: delta.day,
      channel: delta.channel,
      currency: delta.currency,
      capturedAmount: sumMinorUnits(stored?.capturedAmount ?? '0', delta.capturedAmount.toString()),
      capturedCount: (stored?.capturedCount ?? 0) + delta.capturedCount,
      refundedAmount: sumMinorUnits(stored?.refundedAmount ?? '0', delta.refundedAmount.toString()),
      refundedCount: (stored?.refundedCount ?? 0) + delta.refundedCount,
    };
  }

  private delta(day: string, channel: string, currency: string): SettlementDelta {
    const key = settlementKey({ day, channel, currency });
    let delta = this.deltas.get(key);
    if (delta === undefined) {
      delta = { day, channel, currency, capturedAmount: 0n, capturedCount: 0, refundedAmount: 0n, refundedCount: 0 };
      this.deltas.set(key, delta);
    }
    return delta;
  }
}

export const settlementKey = (row: { day: string; channel: string; currency: string }): string => `${row.day}|${row.channel}|${row.currency}`;

/** Parameters of `settle` for a row. */
export function settleParams(row: SettlementRow): unknown[] {
  return [row.day, row.channel, row.currency, row.capturedAmount, row.capturedCount, row.refundedAmount, row.refundedCount];
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
/** An exact sum as stored (SQLite TEXT, PostgreSQL numeric: a string either way), as digits. */
const decimal = (value: unknown): string => {
  const text = typeof value === 'bigint' ? value.toString() : String(value);
  if (!/^-?\d+$/.test(text)) throw new RangeError(`a settlement amount is not an integer of minor units: ${text}`);
  return text;
};

export function toOrderRow(r: Row): OrderRow {
  const key = r.order_id as string;
  const merchantId = r.merchant_id as string | null;
  return {
    orderId: orderIdOfRow(key, merchantId),
    orderKey: key,
    merchantId,
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
    capturedAmount: decimal(r.captured_amount),
    capturedCount: int(r.captured_count),
    refundedAmount: decimal(r.refunded_amount),
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

/** The orderId of an order row: its key without the merchant's prefix (a row of an order from before ids were scoped has none). */
export function orderIdOfRow(key: string, merchantId: string | null): string {
  return merchantId !== null && key.startsWith(`${merchantId}.`) ? key.slice(merchantId.length + 1) : key;
}
