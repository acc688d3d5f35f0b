import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from './http-types.js';
import { ANOMALY_KINDS } from '../../domain/order/order.events.js';
import { ReportQueries, type AnomalyReportRow, type SettlementReport } from '../../application/reporting/report-queries.js';
import type { Viewer } from '../../application/shared/viewer.js';
import { CurrentViewer } from './auth.guard.js';
import { ApiCursorQuery, ApiLimitQuery, ApiProblems, ApiTimeQuery } from './openapi.js';
import { QueryReader } from './report-query.js';
import { AnomalyReportDto, SettlementReportDto } from './responses.dtos.js';

const SETTLEMENT_COLUMNS = ['day', 'channel', 'currency', 'capturedAmount', 'capturedCount', 'refundedAmount', 'refundedCount', 'netAmount'] as const;

/** Reports read from the projections (docs/reports.md): eventually consistent, each answer says at which log position. */
@ApiTags('reports')
@ApiProblems('unauthorized')
@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: ReportQueries) {}

  @Get('anomalies')
  @ApiOperation({ operationId: 'getAnomalyReport', summary: 'Every detected anomaly: kind, detection time, time to refund request, refund status (newest first; auditor and operator keys)' })
  @ApiQuery({ name: 'kind', required: false, enum: ANOMALY_KINDS })
  @ApiTimeQuery('from', 'detected at or after (ISO 8601 time, or a day in REPORT_TIMEZONE: its first moment)')
  @ApiTimeQuery('to', 'detected before (ISO 8601 time, or a day in REPORT_TIMEZONE: its first moment)')
  @ApiCursorQuery()
  @ApiLimitQuery()
  @ApiOkResponse({ type: AnomalyReportDto })
  @ApiProblems('validation', 'forbidden')
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
  @ApiOperation({ operationId: 'getSettlementReport', summary: 'Captured, refunded and net money by day in REPORT_TIMEZONE, channel and currency (JSON, or CSV with Accept: text/csv); auditor and operator keys' })
  @ApiProduces('application/json', 'text/csv')
  @ApiTimeQuery('from', 'first day, YYYY-MM-DD in REPORT_TIMEZONE (inclusive), or an ISO 8601 time: from the day it falls on')
  @ApiTimeQuery('to', 'last day, YYYY-MM-DD in REPORT_TIMEZONE (inclusive), or an ISO 8601 time (exclusive): to the day before it')
  @ApiExtraModels(SettlementReportDto)
  @ApiOkResponse({
    content: {
      'application/json': { schema: { $ref: getSchemaPath(SettlementReportDto) } },
      'text/csv': { schema: { type: 'string', description: 'day,channel,currency,capturedAmount,capturedCount,refundedAmount,refundedCount,netAmount' } },
    },
  })
  @ApiProblems('validation', 'forbidden')
  async settlement(
    @Query() query: Record<string, unknown>,
    @CurrentViewer() viewer: Viewer,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: HttpReply,
  ): Promise<SettlementReport | string> {
    const read = new QueryReader(query, ['from', 'to']);
    const parsed = { from: read.time('from'), to: read.time('to') };
    read.done();
    const report = await this.reports.settlement(viewer, parsed);
    response.header('Vary', 'Accept');
    if (!wantsCsv(request.headers.accept)) return report;
    response.type('text/csv; charset=utf-8');
    response.header('Content-Disposition', `attachment; filename="settlement${report.from ? `-${report.from}` : ''}${report.to ? `-${report.to}` : ''}.csv"`);
    response.header('X-Projection-Position', String(report.position));
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
