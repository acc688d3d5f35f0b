/**
 * The audit log as an auditor reads it, over HTTP (`GET /audit/events`), for e2e assertions
 * about what was recorded and what was not.
 */
import type { TestApp } from './harness.js';

export interface AuditEvent {
  readonly position: number;
  readonly streamName: string;
  readonly revision: number;
  readonly eventId: string;
  readonly type: string;
  readonly data: Record<string, any>;
  readonly metadata: { occurredAt: string; correlationId: string; causationId: string | null; schemaVersion: number };
}

/** Every event of the global log, in commit order (paged, 1000 at a time). */
export async function readLog(app: TestApp): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for (let after = 0; ; ) {
    const answer = await app.request<{ events: AuditEvent[]; next: number }>('GET', `/audit/events?after=${after}&limit=1000`);
    if (answer.status !== 200) throw new Error(`audit log refused: ${answer.status} ${JSON.stringify(answer.body)}`);
    events.push(...answer.body.events);
    if (answer.body.events.length < 1000) return events;
    after = answer.body.next;
  }
}

/** Every event of one stream (`order-{id}` or `payment-{id}`), as `GET /audit/streams/{name}` gives them. */
export async function readStream(app: TestApp, streamName: string): Promise<AuditEvent[]> {
  const answer = await app.request<{ events: AuditEvent[] }>('GET', `/audit/streams/${streamName}`);
  if (answer.status !== 200) throw new Error(`audit stream refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.events;
}

/** Position of the last event in the log (0 when empty): unchanged means nothing was appended. */
export async function logHead(app: TestApp): Promise<number> {
  return (await readLog(app)).at(-1)?.position ?? 0;
}

/** The events of `type` that concern payment `paymentId`. */
export function eventsOfPayment(log: readonly AuditEvent[], paymentId: string, type?: string): AuditEvent[] {
  return log.filter((event) => event.data.paymentId === paymentId && (type === undefined || event.type === type));
}

/** The events of `type` that concern order `orderId`. */
export function eventsOfOrder(log: readonly AuditEvent[], orderId: string, type?: string): AuditEvent[] {
  return log.filter((event) => event.data.orderId === orderId && (type === undefined || event.type === type));
}

/** The types of `events`, in order. */
export const typesOf = (events: readonly AuditEvent[]): string[] => events.map((event) => event.type);
