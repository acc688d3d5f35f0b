import { Inject, Injectable, type OnApplicationShutdown, type Provider, type Type } from '@nestjs/common';
import { CLOCK, type Clock } from '../../application/ports/clock.port.js';
import { SETTINGS, type PayguardSettings } from '../../application/ports/settings.port.js';
import { WEBHOOK_SENDER, WEBHOOK_STORE, WEBHOOK_URL_POLICY, type WebhookStore } from '../../application/ports/webhook-store.port.js';
import { WebhookDispatcher } from '../../application/webhooks/webhook-dispatcher.js';
import { WebhookEndpoints } from '../../application/webhooks/webhook-endpoints.js';
import { WebhookRecorder } from '../../application/webhooks/webhook-recorder.js';
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
  ];
}
