import { Inject, Injectable } from '@nestjs/common';
import type { AnomalyKind, OrderStatus } from '../../domain/order/order.events.js';
import { Forbidden, InvalidRequest } from '../shared/errors.js';
import {
  PROJECTION_STORE,
  type AnomalyRow,
  type OrderRow,
  type PageAfter,
  type ProjectionName,
  type ProjectionStore,
  type SettlementRow,
} from '../ports/projection-store.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import type { Viewer } from '../shared/viewer.js';
import { subtractMinorUnits, sumMinorUnits } from '../../domain/shared/money.js';
import { isDay, ReportDays } from './report-days.js';

/**
 * A bound of a report as asked: a day (YYYY-MM-DD, a day in the report time zone) or an instant
 * (ISO 8601 UTC, as the HTTP edge normalised it).
 */
export type ReportBound = string;

export interface Page<T> {
  readonly items: T[];
  /** Pass as `cursor` for the next page; null on the last one. */
  readonly next: string | null;
  /** The log position the projection reflects (reports are eventually consistent; see /health/ready). */
  readonly position: number;
}

export interface AnomalyReportRow extends AnomalyRow {
  /** Milliseconds from detection to the refund request; null while none is requested. */
  readonly timeToRefundRequestMs: number | null;
}

/**
 * Every amount of the settlement report is a sum over many payments, so every one is an exact
 * decimal string of minor units ("3998"; a net may be negative, "-500"): JSON numbers lose
 * precision past 2^53 (Number.MAX_SAFE_INTEGER), and a report must never round money.
 */
export interface SettlementTotal {
  readonly currency: string;
  readonly capturedAmount: string;
  readonly capturedCount: number;
  readonly refundedAmount: string;
  readonly refundedCount: number;
  readonly netAmount: string;
}

export interface SettlementReport {
  /** The zone whose days the rows are by (REPORT_TIMEZONE). */
  readonly timeZone: string;
  /** First and last day of the report (inclusive), in that zone; null: open-ended. */
  readonly from: string | null;
  readonly to: string | null;
  /** The instants the report covers, [start, end): the first day's first moment, the moment after the last day. */
  readonly start: string | null;
  readonly end: string | null;
  readonly rows: (SettlementRow & { readonly netAmount: string })[];
  /** Per currency, over every day and channel of the report. */
  readonly totals: SettlementTotal[];
  readonly position: number;
}

/** Reads the reporting projections for the HTTP edge, scoped to who is asking. */
@Injectable()
export class ReportQueries {
  private readonly days: ReportDays;

  constructor(
    @Inject(PROJECTION_STORE) private readonly projections: ProjectionStore,
    @Inject(SETTINGS) settings: PayguardSettings,
  ) {
    this.days = new ReportDays(settings.reportTimeZone);
  }

  /** The back office's order list, newest first; a merchant key sees its own orders only. */
  async orders(
    viewer: Viewer,
    query: { status?: OrderStatus; merchantId?: string; from?: ReportBound; to?: ReportBound; cursor?: string; limit: number },
  ): Promise<Page<OrderRow>> {
    const { from, to } = this.instants(query.from, query.to);
    let merchantId = query.merchantId;
    if (viewer.kind === 'merchant') {
      if (merchantId !== undefined && merchantId !== viewer.merchantId) throw new Forbidden('a merchant key lists only its own orders');
      merchantId = viewer.merchantId;
    }
    const after = decodeCursor(query.cursor);
    const rows = await this.projections.orders({ status: query.status, merchantId, from, to, after, limit: query.limit + 1 });
    return this.page(rows, query.limit, (row) => ({ at: row.createdAt, id: row.orderKey }), 'orders');
  }

  /** Every detected anomaly, newest first. Reports span merchants: auditor keys (or an open service) only. */
  async anomalies(viewer: Viewer, query: { kind?: AnomalyKind; from?: ReportBound; to?: ReportBound; cursor?: string; limit: number }): Promise<Page<AnomalyReportRow>> {
    requireReportViewer(viewer);
    const { from, to } = this.instants(query.from, query.to);
    const after = decodeCursor(query.cursor);
    const rows = await this.projections.anomalies({ kind: query.kind, from, to, after, limit: query.limit + 1 });
    const page = await this.page(rows, query.limit, (row) => ({ at: row.detectedAt, id: row.paymentId }), 'anomalies');
    return {
      ...page,
      items: page.items.map((row) => ({
        ...row,
        timeToRefundRequestMs: row.refundRequestedAt === null ? null : Date.parse(row.refundRequestedAt) - Date.parse(row.detectedAt),
      })),
    };
  }

  /**
   * Captured, refunded and net money by day (in the report time zone), channel and currency. Days
   * `from`..`to` inclusive; an instant stands for the days [from, to) touches (`to` is exclusive,
   * as in the other reports), since the rows are whole days.
   */
  async settlement(viewer: Viewer, query: { from?: ReportBound; to?: ReportBound }): Promise<SettlementReport> {
    requireReportViewer(viewer);
    const fromDay = query.from === undefined ? undefined : isDay(query.from) ? query.from : this.days.dayOf(Date.parse(query.from));
    const toDay = query.to === undefined ? undefined : isDay(query.to) ? query.to : this.days.dayOf(Date.parse(query.to) - 1);
    if (fromDay !== undefined && toDay !== undefined && toDay < fromDay) {
      throw new InvalidRequest([{ field: 'to', message: `must not be before from (the report is by day in ${this.days.timeZone})` }]);
    }
    const rows = await this.projections.settlement({ fromDay, toDay });
    const totals = new Map<string, SettlementTotal>();
    for (const row of rows) {
      const total = totals.get(row.currency) ?? { currency: row.currency, capturedAmount: '0', capturedCount: 0, refundedAmount: '0', refundedCount: 0, netAmount: '0' };
      const capturedAmount = sumMinorUnits(total.capturedAmount, row.capturedAmount);
      const refundedAmount = sumMinorUnits(total.refundedAmount, row.refundedAmount);
      totals.set(row.currency, {
        currency: row.currency,
        capturedAmount,
        capturedCount: total.capturedCount + row.capturedCount,
        refundedAmount,
        refundedCount: total.refundedCount + row.refundedCount,
        netAmount: subtractMinorUnits(capturedAmount, refundedAmount),
      });
    }
    return {
      timeZone: this.days.timeZone,
      from: fromDay ?? null,
      to: toDay ?? null,
      start: fromDay === undefined ? null : new Date(this.days.startOf(fromDay)).toISOString(),
      end: toDay === undefined ? null : new Date(this.days.startOf(ReportDays.next(toDay))).toISOString(),
      rows: rows.map((row) => ({ ...row, netAmount: subtractMinorUnits(row.capturedAmount, row.refundedAmount) })),
      totals: [...totals.values()].sort((a, b) => (a.currency < b.currency ? -1 : 1)),
      position: await this.position('settlement'),
    };
  }

  /** Bounds as instants: a day is its first moment in the report time zone. */
  private instants(from: ReportBound | undefined, to: ReportBound | undefined): { from?: string; to?: string } {
    const instant = (bound: ReportBound | undefined) =>
      bound === undefined ? undefined : isDay(bound) ? new Date(this.days.startOf(bound)).toISOString() : bound;
    const range = { from: instant(from), to: instant(to) };
    if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
      throw new InvalidRequest([{ field: 'to', message: 'must not be before from' }]);
    }
    return range;
  }

  private async page<T>(rows: T[], limit: number, keyOf: (row: T) => PageAfter, projection: ProjectionName): Promise<Page<T>> {
    const items = rows.slice(0, limit);
    const next = rows.length > limit ? encodeCursor(keyOf(items[items.length - 1])) : null;
    return { items, next, position: await this.position(projection) };
  }

  private async position(projection: ProjectionName): Promise<number> {
    return (await this.projections.checkpoints())[projection].position;
  }
}

function requireReportViewer(viewer: Viewer): void {
  if (viewer.kind === 'merchant') throw new Forbidden('reports span every merchant: they are for auditor keys');
}

/** Opaque to callers: base64url of [at, id] of the last row of the previous page. */
function encodeCursor(after: PageAfter): string {
  return Buffer.from(JSON.stringify([after.at, after.id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string | undefined): PageAfter | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string') return { at, id };
  } catch {
    // reported below
  }
  throw new InvalidRequest([{ field: 'cursor', message: 'is not a cursor this service gave out' }]);
}
