import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { BackgroundWorkers } from './application/workers/background-workers.js';
import { AggregateRepository } from './application/event-sourcing/aggregate-repository.js';
import { DeadlineScheduler } from './application/deadlines/deadline-scheduler.js';
import { OrderExpiry } from './application/orders/order-expiry.js';
import { OpenWorkIndex } from './application/open-work/open-work.index.js';
import { CloseOrderHandler } from './application/orders/close-order.handler.js';
import { PlaceOrderHandler } from './application/orders/place-order.handler.js';
import { HandleNotificationHandler } from './application/payments/handle-notification.handler.js';
import { PaymentResultRecorder } from './application/trades/payment-result-recorder.js';
import { StartPaymentHandler } from './application/payments/start-payment.handler.js';
import { SyncPaymentHandler } from './application/payments/sync-payment.handler.js';
import { CHANNEL_REGISTRY } from './application/ports/channel-registry.port.js';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from './application/ports/clock.port.js';
import { CHECKPOINT_STORE, EVENT_STORE, type EventStore, type KeyedCheckpointStore } from './application/ports/event-store.port.js';
import { LEADERSHIP, type Leadership } from './application/ports/leadership.port.js';
import { IDEMPOTENCY_STORE, type IdempotencyStore } from './application/ports/idempotency-store.port.js';
import { PROJECTION_STORE, type ProjectionStore } from './application/ports/projection-store.port.js';
import { SETTINGS, type PayguardSettings } from './application/ports/settings.port.js';
import { AnomalyProcessManager } from './application/process-manager/anomaly.process-manager.js';
import { OrderLocator } from './application/queries/order-locator.js';
import { OrderReader } from './application/queries/order-reader.js';
import { Reactions } from './application/process-manager/reactions.js';
import { ReconciliationSweep } from './application/reconciliation/reconciliation.sweep.js';
import { RefundAttempts } from './application/refunds/refund-attempts.js';
import { ResolveRefundHandler } from './application/refunds/resolve-refund.handler.js';
import { PaymentIntents } from './application/trades/payment-intents.js';
import { TradeCloser } from './application/trades/trade-closer.js';
import { TradeWatch } from './application/trades/trade-watch.js';
import { ReportProjections } from './application/reporting/report-projections.js';
import { ReportQueries } from './application/reporting/report-queries.js';
import { RefundRunner } from './application/refunds/refund-runner.js';
import { SharedLogReader } from './application/log/shared-log-reader.js';
import { InMemoryChannelRegistry } from './infrastructure/channels/channel-registry.js';
import type { AppConfig } from './infrastructure/config/config.js';
import { StoreHealth } from './infrastructure/event-store/store-health.js';
import { StoreLifecycle } from './infrastructure/event-store/store-lifecycle.js';
import { AuditController } from './infrastructure/http/audit.controller.js';
import { API_KEYS, AuthGuard } from './infrastructure/http/auth.guard.js';
import { ChannelsController } from './infrastructure/http/channels.controller.js';
import { HealthController } from './infrastructure/http/health.controller.js';
import { IdempotencyInterceptor } from './infrastructure/idempotency/idempotency.interceptor.js';
import { METRICS_ENABLED, Metrics, MetricsController } from './infrastructure/http/metrics.js';
import { MetricsFollower } from './application/observability/metrics.follower.js';
import { NO_METRICS, OPERATIONS_METRICS } from './application/ports/metrics.port.js';
import { OrdersController } from './infrastructure/http/orders.controller.js';
import { PaymentsController } from './infrastructure/http/payments.controller.js';
import { ProblemFilter } from './infrastructure/http/problem.filter.js';
import { RefundsController } from './infrastructure/http/refunds.controller.js';
import { ProblemsController } from './infrastructure/http/problems.controller.js';
import { ReportsController } from './infrastructure/http/reports.controller.js';
import { SandboxModule, inProcessSandboxOptions } from './infrastructure/sandbox/sandbox.module.js';
import { RETURN_URL_POLICY, type ReturnUrlPolicy } from './application/ports/return-url-policy.port.js';
import { CHECKOUT_CONTROLLERS, checkoutProviders, isCheckoutPageUrl } from './infrastructure/checkout/checkout.providers.js';
import { WEBHOOK_CONTROLLERS, webhookProviders } from './infrastructure/webhooks/webhook.providers.js';
import type { WebhookStore } from './application/ports/webhook-store.port.js';

export interface AppParts {
  readonly config: AppConfig;
  readonly store: EventStore & KeyedCheckpointStore;
  readonly projections: ProjectionStore;
  readonly settings: PayguardSettings;
  readonly channels: InMemoryChannelRegistry;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly leadership: Leadership;
  /** Webhook endpoints, deliveries and the merchant feed, beside the events (see open-webhook-store.ts). */
  readonly webhooks: WebhookStore;
  /** Idempotency-Key answers, beside the events (see open-idempotency-store.ts). */
  readonly idempotency: IdempotencyStore;
}

@Module({})
export class AppModule {
  static forRoot(parts: AppParts): DynamicModule {
    // The application gets the store through StoreHealth's watch: a write the store fails makes /health/ready 503.
    const health = new StoreHealth(parts.store, { checkBudgetMs: parts.config.storeCheckBudgetMs });
    const store = health.watch(parts.store);
    const providers: Provider[] = [
      { provide: EVENT_STORE, useValue: store },
      { provide: CHECKPOINT_STORE, useValue: store },
      { provide: StoreHealth, useValue: health },
      { provide: PROJECTION_STORE, useValue: parts.projections },
      { provide: SETTINGS, useValue: parts.settings },
      // The hosted checkout's own page is where its payments send the payer back, whatever RETURN_URL_ORIGINS lists.
      { provide: RETURN_URL_POLICY, useValue: { allows: (url) => isCheckoutPageUrl(url, parts.settings.publicBaseUrl) || parts.config.returnUrlOrigins.allows(url) } satisfies ReturnUrlPolicy },
      { provide: CHANNEL_REGISTRY, useValue: parts.channels },
      { provide: CLOCK, useValue: parts.clock },
      { provide: ID_GENERATOR, useValue: parts.ids },
      { provide: LEADERSHIP, useValue: parts.leadership },
      { provide: API_KEYS, useValue: parts.config.apiKeys },
      { provide: APP_GUARD, useClass: AuthGuard },
      { provide: APP_FILTER, useClass: ProblemFilter },
      // After the auth guard (keys are per caller), before the validation pipe; sees the filter's problems as sent.
      { provide: IDEMPOTENCY_STORE, useValue: parts.idempotency },
      { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      AggregateRepository,
      Reactions,
      OrderReader,
      OrderLocator,
      PaymentResultRecorder,
      PlaceOrderHandler,
      CloseOrderHandler,
      StartPaymentHandler,
      HandleNotificationHandler,
      SyncPaymentHandler,
      OrderExpiry,
      RefundAttempts,
      ResolveRefundHandler,
      PaymentIntents,
      TradeCloser,
      TradeWatch,
      SharedLogReader,
      OpenWorkIndex,
      AnomalyProcessManager,
      RefundRunner,
      ReportProjections,
      ReportQueries,
      DeadlineScheduler,
      ReconciliationSweep,
      BackgroundWorkers,
      StoreLifecycle,
      Metrics,
      { provide: METRICS_ENABLED, useValue: parts.config.metricsEnabled },
      // METRICS_ENABLED=false: the application's metric calls do nothing, and the metrics follower does not run.
      { provide: OPERATIONS_METRICS, useFactory: (metrics: Metrics) => (metrics.enabled ? metrics : NO_METRICS), inject: [Metrics] },
      MetricsFollower,
      ...checkoutProviders(parts.config),
      ...webhookProviders(parts.webhooks, { allowPrivate: parts.config.webhookAllowPrivate }),
    ];
    // SANDBOX_ENABLED=false: no /sandbox routes at all (404 like any unknown path).
    const { sandboxEnabled, sandboxGatewayUrl, sandboxSecret: secret, sandboxNotifyDelayMs: notifyDelayMs, sandboxMaxTrades: maxTrades, returnUrlOrigins } = parts.config;
    const publicBaseUrl = () => parts.settings.publicBaseUrl;
    const sandbox =
      sandboxEnabled && sandboxGatewayUrl === null
        ? [SandboxModule.forRoot(inProcessSandboxOptions({ secret, notifyDelayMs, maxTrades, returnUrlOrigins, publicBaseUrl }))]
        : [];
    return {
      module: AppModule,
      imports: [CqrsModule.forRoot(), ...sandbox],
      controllers: [OrdersController, PaymentsController, RefundsController, ChannelsController, AuditController, ReportsController, HealthController, MetricsController, ProblemsController, ...CHECKOUT_CONTROLLERS, ...WEBHOOK_CONTROLLERS],
      providers,
    };
  }
}
