/**
 * The webhook store port: merchants' endpoints (with their signing secrets, which never enter the
 * event log), the merchant events feed, and the deliveries of feed events to endpoints. Every
 * adapter (memory, SQLite, PostgreSQL) keeps these promises, checked by
 * test/int/webhook-store.contract.ts.
 */

/** The event types a merchant can subscribe to and read in its feed. */
export const MERCHANT_EVENT_TYPES = [
  'order.paid',
  'order.expired',
  'order.closed',
  'payment.succeeded',
  'anomaly.detected',
  'refund.succeeded',
  'refund.failed',
  'refund.resolved',
] as const;
export type MerchantEventType = (typeof MERCHANT_EVENT_TYPES)[number];

/** What a webhook delivery posts and the feed lists. `id` is the log event's eventId: the same on every retry. */
export interface MerchantEvent {
  readonly id: string;
  readonly type: MerchantEventType;
  readonly createdAt: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** One feed row: a merchant event, whose merchant it is (null: an order placed while the service ran open), and its log position. */
export interface FeedRow {
  readonly position: number;
  readonly merchantId: string | null;
  readonly event: MerchantEvent;
}

export interface WebhookEndpoint {
  readonly id: string;
  readonly merchantId: string | null;
  readonly url: string;
  readonly events: readonly MerchantEventType[];
  /** The HMAC key of its deliveries' signatures. */
  readonly secret: string;
  readonly createdAt: string;
  /** The log's head when it was created: it gets the events after this position. */
  readonly createdAfter: number;
}

/** `pending`: an attempt is due at nextAttemptAt; `succeeded`: a 2xx came back; `failed`: retries ran out (a resend reopens it). */
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One try: the receiver's status code, or why there was none. */
export interface DeliveryAttempt {
  readonly at: string;
  readonly statusCode: number | null;
  readonly error: string | null;
}

export interface Delivery {
  readonly endpointId: string;
  readonly eventId: string;
  readonly type: MerchantEventType;
  readonly position: number;
  readonly status: DeliveryStatus;
  /** How many tries were made in all; `history` keeps the most recent ones. */
  readonly attempts: number;
  readonly history: readonly DeliveryAttempt[];
  readonly nextAttemptAt: string | null;
  /** When the current run of retries began (its first try, or the last resend): retries end a day after it. */
  readonly retriesSince: string | null;
  readonly createdAt: string;
}

/** A delivery that is due, with what it needs to be sent. */
export interface DueDelivery {
  readonly delivery: Delivery;
  readonly endpoint: WebhookEndpoint;
  readonly event: MerchantEvent;
}

/** A delivery to create: the event (by its feed position) to one endpoint. */
export interface NewDelivery {
  readonly endpointId: string;
  readonly position: number;
  readonly eventId: string;
  readonly type: MerchantEventType;
  readonly createdAt: string;
}

/** What one try changes: its record, and what comes next. */
export interface AttemptOutcome {
  readonly attempt: DeliveryAttempt;
  readonly status: DeliveryStatus;
  readonly nextAttemptAt: string | null;
  readonly retriesSince: string;
}

/** Whose feed: one merchant's (null: the open service's), or every merchant's (auditors and operators). */
export type FeedScope = { readonly merchantId: string | null } | 'all';

export interface FeedQuery {
  readonly scope: FeedScope;
  /** Rows with a position greater than this. */
  readonly after: number;
  readonly limit: number;
  readonly types?: readonly MerchantEventType[];
}

/** Most attempts a delivery keeps in its history (the count goes on). */
export const DELIVERY_HISTORY = 50;

export interface WebhookStore {
  /** The log position up to which feed rows and deliveries are recorded (0: none). */
  position(): Promise<number>;
  /**
   * In one transaction: adds the feed rows and deliveries (each due at once) that are not there
   * yet (a row by its position, a delivery by endpoint and event; repeats change nothing) and
   * moves the position to `position` (never back).
   */
  record(rows: readonly FeedRow[], deliveries: readonly NewDelivery[], position: number): Promise<void>;

  createEndpoint(endpoint: WebhookEndpoint): Promise<void>;
  /** Every endpoint, by creation (what the recorder matches events against). */
  allEndpoints(): Promise<WebhookEndpoint[]>;
  endpointsOf(merchantId: string | null): Promise<WebhookEndpoint[]>;
  endpoint(id: string): Promise<WebhookEndpoint | null>;
  /** Removes the endpoint and its deliveries; false when there was none. */
  deleteEndpoint(id: string): Promise<boolean>;

  /** Pending deliveries due at `now`, soonest first, at most `limit`, skipping those in `except`. */
  due(now: string, limit: number, except?: ReadonlySet<string>): Promise<DueDelivery[]>;
  /** When the next pending delivery is due (null: none). */
  nextDueAt(): Promise<string | null>;
  /** Records one try of a delivery; nothing when the delivery is gone (its endpoint deleted). */
  recordAttempt(endpointId: string, eventId: string, outcome: AttemptOutcome): Promise<void>;
  /** An endpoint's deliveries, newest event first. */
  deliveries(endpointId: string, limit: number): Promise<Delivery[]>;
  delivery(endpointId: string, eventId: string): Promise<Delivery | null>;
  /** Makes the delivery pending and due at `now`, its retry window starting again; false when there is none. */
  resend(endpointId: string, eventId: string, now: string): Promise<boolean>;

  /** Feed rows by position. */
  feed(query: FeedQuery): Promise<FeedRow[]>;
  close(): Promise<void>;
}

/** The key a delivery is known by inside the process (the in-flight set). */
export const deliveryKey = (endpointId: string, eventId: string): string => `${endpointId} ${eventId}`;

/** How a delivery is sent: the signed POST of `body` to the endpoint's URL. */
export interface WebhookSender {
  send(endpoint: WebhookEndpoint, body: string): Promise<{ readonly statusCode: number } | { readonly error: string }>;
}

/** Where deliveries may go: a merchant's own public origins, not the service itself nor private networks. */
export interface WebhookUrlPolicy {
  /** Why `url` may not receive deliveries, or null when it may (resolves its host). */
  refusal(url: string): Promise<string | null>;
}

export const WEBHOOK_STORE = Symbol('WebhookStore');
export const WEBHOOK_URL_POLICY = Symbol('WebhookUrlPolicy');
export const WEBHOOK_SENDER = Symbol('WebhookSender');
