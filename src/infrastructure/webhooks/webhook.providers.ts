import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit, type Provider, type Type } from '@nestjs/common';
import { Counter } from 'prom-client';
import { CLOCK, type Clock } from '../../application/ports/clock.port.js';
import { SETTINGS, type PayguardSettings } from '../../application/ports/settings.port.js';
import { WEBHOOK_SENDER, WEBHOOK_STORE, WEBHOOK_URL_POLICY, type WebhookStore } from '../../application/ports/webhook-store.port.js';
import { WebhookDispatcher } from '../../application/webhooks/webhook-dispatcher.js';
import { WebhookEndpoints } from '../../application/webhooks/webhook-endpoints.js';
import { WebhookRecorder } from '../../application/webhooks/webhook-recorder.js';
import { Metrics } from '../http/metrics.js';
import { EventsController } from './events.controller.js';
import { HttpWebhookSender } from './http.webhook-sender.js';
import { WebhookEndpointsController } from './webhook-endpoints.controller.js';
import { HostWebhookUrlPolicy } from './webhook-url-policy.js';

/** Closes the webhook store (its own pool or file; a no-op on the event store's SQLite connection) and the sender's sockets, after the workers stopped. */
@Injectable()
class WebhookLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(WEBHOOK_STORE) private readonly store: WebhookStore,
    @Inject(WEBHOOK_SENDER) private readonly sender: HttpWebhookSender,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.sender.close();
    await this.store.close();
  }
}

/** `payguard_webhook_deliveries_total{outcome}`: each try, as `succeeded`, `retry` (failed, another is due) or `failed` (retries ran out). */
@Injectable()
class WebhookMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly dispatcher: WebhookDispatcher,
  ) {}

  onModuleInit(): void {
    if (!this.metrics.enabled) return;
    const deliveries = new Counter({
      name: 'payguard_webhook_deliveries_total',
      help: 'Webhook delivery tries by outcome: succeeded (2xx), retry (failed, retried later), failed (retries ran out)',
      labelNames: ['outcome'] as const,
      registers: [this.metrics.registry],
    });
    for (const outcome of ['succeeded', 'retry', 'failed']) deliveries.inc({ outcome }, 0);
    this.dispatcher.onOutcome((outcome) => deliveries.inc({ outcome }));
  }
}

export const WEBHOOK_CONTROLLERS: Type[] = [WebhookEndpointsController, EventsController];

/** The webhooks' providers: the store opened at start-up (openWebhookStore), the URL policy and the signed HTTP sender. */
export function webhookProviders(store: WebhookStore, options: { readonly allowPrivate: boolean }): Provider[] {
  return [
    { provide: WEBHOOK_STORE, useValue: store },
    {
      provide: WEBHOOK_URL_POLICY,
      inject: [SETTINGS],
      useFactory: (settings: PayguardSettings) => new HostWebhookUrlPolicy({ allowPrivate: options.allowPrivate, ownBaseUrl: () => settings.publicBaseUrl }),
    },
    {
      provide: WEBHOOK_SENDER,
      inject: [WEBHOOK_URL_POLICY, CLOCK],
      useFactory: (policy: HostWebhookUrlPolicy, clock: Clock) => new HttpWebhookSender(policy, clock),
    },
    WebhookDispatcher,
    WebhookRecorder,
    WebhookEndpoints,
    WebhookLifecycle,
    WebhookMetrics,
  ];
}
