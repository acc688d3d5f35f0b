import { Inject, Injectable } from '@nestjs/common';
import type { AnomalyKind, OrderStatus } from '../../domain/order/order.events.js';
import { Forbidden, InvalidRequest } from '../errors.js';
import {
  PROJECTION_STORE,
  type AnomalyRow,
  type OrderRow,
  type PageAfter,
  type ProjectionName,
  type ProjectionStore,
  type SettlementRow,
} from '../ports/projection-store.port.js';
import type { Viewer } from '../viewer.js';
import { subtractMinorUnits, sumMinorUnits } from '../../domain/shared/money.js';

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
  readonly from: string | null;
  readonly to: string | null;
  readonly rows: (SettlementRow & { readonly netAmount: string })[];
  /** Per currency, over every day and channel of the report. */
  readonly totals: SettlementTotal[];
  readonly position: number;
}

/** Reads the reporting projections for the HTTP edge, scoped to who is asking. */
@Injectable()
export class ReportsReader {
  constructor(@Inject(PROJECTION_STORE) private readonly projections: ProjectionStore) {}

  /** The back office's order list, newest first; a merchant key sees its own orders only. */
  async orders(
    viewer: Viewer,
    query: { status?: OrderStatus; merchantId?: string; from?: string; to?: string; cursor?: string; limit: number },
  ): Promise<Page<OrderRow>> {
    let merchantId = query.merchantId;
    if (viewer.kind === 'merchant') {
      if (merchantId !== undefined && merchantId !== viewer.merchantId) throw new Forbidden('a merchant key lists only its own orders');
      merchantId = viewer.merchantId;
    }
    const after = decodeCursor(query.cursor);
    const rows = await this.projections.orders({ status: query.status, merchantId, from: query.from, to: query.to, after, limit: query.limit + 1 });
    return this.page(rows, query.limit, (row) => ({ at: row.createdAt, id: row.orderKey }), 'orders');
  }

  /** Every detected anomaly, newest first. Reports span merchants: auditor keys (or an open service) only. */
  async anomalies(viewer: Viewer, query: { kind?: AnomalyKind; from?: string; to?: string; cursor?: string; limit: number }): Promise<Page<AnomalyReportRow>> {
    requireReportViewer(viewer);
    const after = decodeCursor(query.cursor);
    const rows = await this.projections.anomalies({ kind: query.kind, from: query.from, to: query.to, after, limit: query.limit + 1 });
    const page = await this.page(rows, query.limit, (row) => ({ at: row.detectedAt, id: row.paymentId }), 'anomalies');
    return {
      ...page,
      items: page.items.map((row) => ({
        ...row,
        timeToRefundRequestMs: row.refundRequestedAt === null ? null : Date.parse(row.refundRequestedAt) - Date.parse(row.detectedAt),
      })),
    };
  }

  /** Captured, refunded and net money by UTC day, channel and currency, days `from`..`to` inclusive. */
  async settlement(viewer: Viewer, query: { from?: string; to?: string }): Promise<SettlementReport> {
    requireReportViewer(viewer);
    const rows = await this.projections.settlement({ fromDay: query.from, toDay: query.to });
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
      from: query.from ?? null,
      to: query.to ?? null,
      rows: rows.map((row) => ({ ...row, netAmount: subtractMinorUnits(row.capturedAmount, row.refundedAmount) })),
      totals: [...totals.values()].sort((a, b) => (a.currency < b.currency ? -1 : 1)),
      position: await this.position('settlement'),
    };
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
