/**
 * Assertions about the public contract (API.md) shared by the e2e suites: the problem+json shape
 * every error has, and reading the audit log as an auditor would.
 */
import type { Answer } from './harness.js';

export const PROBLEM_BASE = 'https://payguard.dev/problems/';

/** An ISO 8601 UTC time as the API writes it. */
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

export interface AuditEvent {
  position: number;
  streamName: string;
  revision: number;
  eventId: string;
  type: string;
  data: Record<string, any>;
  metadata: { occurredAt: string; correlationId: string; causationId: string | null; schemaVersion: number };
}

type Requester = { request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>> };

/** The answer is an RFC 9457 problem of the given status and slug. */
export function expectProblem(answer: Answer, status: number, slug: string): void {
  expect({ status: answer.status, contentType: answer.headers.get('content-type') }).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/problem\+json\b/),
  });
  expect(answer.body).toEqual(
    expect.objectContaining({
      type: `${PROBLEM_BASE}${slug}`,
      title: expect.stringMatching(/\S/),
      status,
      detail: expect.stringMatching(/\S/),
    }),
  );
}

/** A `400 validation` problem whose `errors` name `field` (each error has a field and a message). */
export function expectValidationProblem(answer: Answer, field: string): void {
  expectProblem(answer, 400, 'validation');
  const errors = answer.body.errors as unknown;
  expect(Array.isArray(errors) && errors.length > 0).toBe(true);
  for (const error of errors as unknown[]) expect(error).toEqual({ field: expect.any(String), message: expect.stringMatching(/\S/) });
  expect((errors as { field: string }[]).map((error) => error.field)).toContain(field);
}

/** Every event of the global log, read page by page with `after` and `next`. */
export async function readWholeLog(app: Requester, headers: Record<string, string> = {}, pageSize = 1000): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await app.request<{ events: AuditEvent[]; next: number }>('GET', `/audit/events?after=${after}&limit=${pageSize}`, undefined, headers);
    if (page.status !== 200) throw new Error(`reading the log failed: ${page.status} ${JSON.stringify(page.body)}`);
    if (page.body.events.length === 0) return events;
    events.push(...page.body.events);
    after = page.body.next;
  }
}

/** Position of the last event in the log (0 when empty). */
export async function logHead(app: Requester, headers: Record<string, string> = {}): Promise<number> {
  const events = await readWholeLog(app, headers);
  return events.length === 0 ? 0 : events[events.length - 1].position;
}
