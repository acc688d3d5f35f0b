import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Clock } from '../../application/ports/clock.port.js';
import type { WebhookEndpoint, WebhookSender } from '../../application/ports/webhook-store.port.js';
import type { HostWebhookUrlPolicy } from './webhook-url-policy.js';
import { signWebhookBody, WEBHOOK_SIGNATURE_HEADER } from './webhook-signature.js';

/** A receiver has this long to answer a delivery (connect, send, status line and body); then it counts as failed and is retried. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** How much of an answer's body is read (and dropped): receivers only need to say 2xx. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs a delivery, signed at the moment it is sent, to the endpoint's URL, connecting only to
 * addresses the URL policy allows. Redirects are not followed (a 3xx is not an acknowledgement).
 */
export class HttpWebhookSender implements WebhookSender {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 16 });

  constructor(
    private readonly policy: HostWebhookUrlPolicy,
    private readonly clock: Clock,
    private readonly timeoutMs = WEBHOOK_TIMEOUT_MS,
  ) {}

  async send(endpoint: WebhookEndpoint, body: string): Promise<{ statusCode: number } | { error: string }> {
    const url = new URL(endpoint.url);
    const refused = this.policy.literalRefusal(url);
    if (refused !== null) return { error: refused };
    const secure = url.protocol === 'https:';
    const event = JSON.parse(body) as { id: string; type: string };
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: { statusCode: number } | { error: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const request = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: secure ? this.https : this.http,
          lookup: this.policy.lookup,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'Payguard-Webhooks/1',
            'payguard-event-id': event.id,
            'payguard-event-type': event.type,
            [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(endpoint.secret, body, this.clock.now()),
          },
        },
        (response: IncomingMessage) => {
          let read = 0;
          response.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_ANSWER_BYTES) response.destroy();
          });
          response.on('end', () => finish({ statusCode: response.statusCode ?? 0 }));
          response.on('close', () => finish({ statusCode: response.statusCode ?? 0 }));
          response.on('error', () => finish({ statusCode: response.statusCode ?? 0 }));
        },
      );
      const timer = setTimeout(() => {
        finish({ error: `no answer within ${this.timeoutMs} ms` });
        request.destroy();
      }, this.timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => finish({ error: error.code === 'EWEBHOOKPRIVATE' ? `refused: ${error.message}` : (error.code ?? error.message) }));
      request.end(body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
