import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ANOMALY_KINDS } from '../../domain/order/order.events.js';
import { ReportsReader, type AnomalyReportRow, type SettlementReport } from '../../application/reporting/reports.reader.js';
import type { Viewer } from '../../application/viewer.js';
import { CurrentViewer } from './auth.guard.js';
import { QueryReader } from './report-query.js';

const SETTLEMENT_COLUMNS = ['day', 'channel', 'currency', 'capturedAmount', 'capturedCount', 'refundedAmount', 'refundedCount', 'netAmount'] as const;

/** Reports read from the projections (docs/reports.md): eventually consistent, each answer says at which log position. */
@ApiTags('reports')
@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: ReportsReader) {}

  @Get('anomalies')
  @ApiOperation({ summary: 'Every detected anomaly: kind, detection time, time to refund request, refund status (newest first)' })
  @ApiQuery({ name: 'kind', required: false, enum: ANOMALY_KINDS })
  @ApiQuery({ name: 'from', required: false, description: 'detected at or after (ISO 8601 time, or a day in REPORT_TIMEZONE: its first moment)' })
  @ApiQuery({ name: 'to', required: false, description: 'detected before (ISO 8601 time, or a day in REPORT_TIMEZONE: its first moment)' })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1-1000 (default 100)' })
  async anomalies(
    @Query() query: Record<string, unknown>,
    @CurrentViewer() viewer: Viewer,
  ): Promise<{ anomalies: AnomalyReportRow[]; next: string | null; position: number }> {
    const read = new QueryReader(query, ['kind', 'from', 'to', 'cursor', 'limit']);
    const parsed = {
      kind: read.oneOf('kind', ANOMALY_KINDS),
      from: read.time('from'),
      to: read.time('to'),
      cursor: read.string('cursor'),
      limit: read.integer('limit', 100, 1, 1000),
    };
    read.done();
    const { items, next, position } = await this.reports.anomalies(viewer, parsed);
    return { anomalies: items, next, position };
  }

  @Get('settlement')
  @ApiOperation({ summary: 'Captured, refunded and net money by day in REPORT_TIMEZONE, channel and currency (JSON, or CSV with Accept: text/csv)' })
  @ApiProduces('application/json', 'text/csv')
  @ApiQuery({ name: 'from', required: false, description: 'first day, YYYY-MM-DD in REPORT_TIMEZONE (inclusive), or an ISO 8601 time: from the day it falls on' })
  @ApiQuery({ name: 'to', required: false, description: 'last day, YYYY-MM-DD in REPORT_TIMEZONE (inclusive), or an ISO 8601 time (exclusive): to the day before it' })
  async settlement(
    @Query() query: Record<string, unknown>,
    @CurrentViewer() viewer: Viewer,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SettlementReport | string> {
    const read = new QueryReader(query, ['from', 'to']);
    const parsed = { from: read.time('from'), to: read.time('to') };
    read.done();
    const report = await this.reports.settlement(viewer, parsed);
    response.setHeader('Vary', 'Accept');
    if (!wantsCsv(request.headers.accept)) return report;
    response.type('text/csv; charset=utf-8');
    response.setHeader('Content-Disposition', `attachment; filename="settlement${report.from ? `-${report.from}` : ''}${report.to ? `-${report.to}` : ''}.csv"`);
    response.setHeader('X-Projection-Position', String(report.position));
    const lines = [SETTLEMENT_COLUMNS.join(','), ...report.rows.map((row) => SETTLEMENT_COLUMNS.map((column) => csvField(row[column])).join(','))];
    return `${lines.join('\r\n')}\r\n`;
  }
}

/** CSV when the caller asks for it and does not prefer JSON. */
function wantsCsv(accept: string | undefined): boolean {
  if (accept === undefined || !/\btext\/csv\b/i.test(accept)) return false;
  const json = /application\/json/i.exec(accept);
  return json === null || accept.toLowerCase().indexOf('text/csv') < json.index;
}

/**
 * RFC 4180: quoted when it holds a comma, quote or line break; a leading = + - @ is defused for
 * spreadsheets, except in a plain integer (an amount, "-500" a negative net), which stays digits.
 */
function csvField(value: string | number): string {
  const text = String(value);
  const safe = typeof value === 'string' && /^[=+\-@]/.test(text) && !/^-?\d+$/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
