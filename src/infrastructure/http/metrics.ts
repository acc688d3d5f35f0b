import { Controller, Get, Header, Injectable, type NestMiddleware } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BackgroundWorkers } from '../../application/background-workers.js';
import { OpenWorkIndex } from '../../application/open-work/open-work.index.js';

/** One registry per app, so two apps in one process (tests) don't share counters. */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'payguard_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  constructor(workers: BackgroundWorkers, openWork: OpenWorkIndex) {
    collectDefaultMetrics({ register: this.registry, prefix: 'payguard_' });
    new Gauge({
      name: 'payguard_log_follower_lag_events',
      help: 'Events between the head of the log and what each follower has handled',
      labelNames: ['follower'] as const,
      registers: [this.registry],
      async collect() {
        const { followers } = await workers.lag();
        for (const [follower, lag] of Object.entries(followers)) this.set({ follower }, lag);
      },
    });
    new Gauge({
      name: 'payguard_log_head_position',
      help: 'Position of the last event in the global log',
      registers: [this.registry],
      async collect() {
        this.set((await workers.lag()).head);
      },
    });
    new Gauge({
      name: 'payguard_open_items',
      help: 'Open work: pending orders, trades not yet final at their provider, anomalies awaiting a refund request, refunds not yet succeeded, failed refunds awaiting an operator',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        const work = openWork.current;
        this.set({ kind: 'pending_orders' }, Object.keys(work.pendingOrders).length);
        const trades = Object.values(work.trades);
        this.set({ kind: 'pending_payments' }, trades.filter((trade) => trade.state === 'open').length);
        this.set({ kind: 'watched_trades' }, trades.length);
        this.set({ kind: 'unrefunded_anomalies' }, Object.keys(work.unrefundedAnomalies).length);
        const refunds = Object.values(work.openRefunds);
        this.set({ kind: 'open_refunds' }, refunds.length);
        this.set({ kind: 'failed_refunds' }, refunds.filter((refund) => refund.failed).length);
      },
    });
  }
}

@Injectable()
export class RequestMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: Metrics) {}

  use(request: Request, response: Response, next: NextFunction): void {
    response.on('finish', () => {
      // The route pattern, not the URL, keeps the label set small.
      const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
      this.metrics.requests.inc({ method: request.method, route: `${request.baseUrl}${route}`, status: String(response.statusCode) });
    });
    next();
  }
}

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics' })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
