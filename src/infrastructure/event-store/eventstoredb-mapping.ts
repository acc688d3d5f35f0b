import { createHash } from 'node:crypto';
import {
  ANY,
  type AppendExpectedRevision,
  type EventData,
  jsonEvent,
  NO_STREAM,
  NoStreamError,
  type Position,
  type ReadPosition,
  START,
  StreamNotFoundError,
  type WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  type AppendResult,
  ConcurrencyError,
  type EventMetadata,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
} from '../../application/ports/event-store.port.js';
import { repeatOrConflict } from './append-rule.js';

// Pure mappings between the port and EventStoreDB, and the stream names the adapter reserves;
// exported for the tests (they need no server).

/** Streams holding followers' checkpoints: `<namespace>payguard_checkpoint-<name>`; kept out of the log. */
export const CHECKPOINT_STREAM_PREFIX = 'payguard_checkpoint-';
/** The leader lease (eventstoredb.leadership.ts): `<namespace>payguard_leader`; kept out of the log. */
export const LEADER_STREAM = 'payguard_leader';
/** Stored-metadata key holding an event id EventStoreDB could not take as it is (see `toEsdbEventId`). */
export const ORIGINAL_EVENT_ID_KEY = 'payguardEventId';
/** Namespace of the name-based (v5) UUIDs standing in for non-UUID event ids. Never change it. */
const EVENT_ID_NAMESPACE = '16f3a2c8-073a-441f-8473-82b7e3ef158a';
export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.:-]{0,100}$/;
/** Lower-case canonical form: what EventStoreDB hands back, so such an id needs no translation. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** The port's expected revision as EventStoreDB's: `no-stream` -> NO_STREAM, a revision -> bigint, `any` -> ANY. */
export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === 'no-stream') return NO_STREAM;
  if (expected === 'any') return ANY;
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new RangeError(`expected revision must be 'no-stream', 'any' or an integer >= 0, not ${String(expected)}`);
  }
  return BigInt(expected);
}

/**
 * EventStoreDB's WrongExpectedVersionError as the port's ConcurrencyError, with the stream's
 * actual revision as the error carries it (`fallback` when it carries none).
 */
export function toConcurrencyError(
  error: WrongExpectedVersionError,
  streamName: string,
  expected: ExpectedRevision,
  fallback: number | 'no-stream' = 'no-stream',
): ConcurrencyError {
  const actual: unknown = error.actualVersion;
  if (typeof actual === 'bigint') return new ConcurrencyError(streamName, expected, Number(actual));
  if (actual === NO_STREAM) return new ConcurrencyError(streamName, expected, 'no-stream');
  return new ConcurrencyError(streamName, expected, fallback);
}

/**
 * The id EventStoreDB stores for a port event id. EventStoreDB takes only UUIDs and gives them
 * back in lower-case canonical form, so such an id goes as it is (Payguard's random and derived
 * ids are); anything else (another format, upper case, the nil UUID, which EventStoreDB refuses)
 * becomes a name-based UUID (RFC 4122 version 5, SHA-1) of it, the same every time, and the
 * original travels in the event's metadata (`toEventData`). Distinct ids stay distinct (short of
 * a SHA-1 collision), and a repeat maps to the same UUID, so EventStoreDB sees the repeat too.
 */
export function toEsdbEventId(eventId: string): string {
  if (CANONICAL_UUID.test(eventId) && eventId !== NIL_UUID) return eventId;
  return uuidV5(eventId, EVENT_ID_NAMESPACE);
}

/** A port event as EventStoreDB event data: JSON data, the port's metadata (+ the original id when it was mapped). */
export function toEventData(event: NewEvent): EventData {
  const id = toEsdbEventId(event.eventId);
  const metadata: Record<string, unknown> =
    id === event.eventId ? { ...event.metadata } : { ...event.metadata, [ORIGINAL_EVENT_ID_KEY]: event.eventId };
  return jsonEvent({ id, type: event.type, data: event.data, metadata });
}

/** What this store needs of an event EventStoreDB gives back (from a stream or from `$all`). */
export interface StoredEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly revision: bigint;
  readonly position?: Position;
}

/** An event read back, as the port records it: the original id restored, metadata as written. */
export function fromStoredEvent(event: StoredEvent, streamName: string): RecordedEvent {
  if (!isPlainObject(event.data) || !isPlainObject(event.metadata)) {
    throw new Error(`event ${event.id} in ${streamName} was not written by Payguard (data and metadata must be JSON objects)`);
  }
  const { [ORIGINAL_EVENT_ID_KEY]: original, ...metadata } = event.metadata;
  return {
    eventId: typeof original === 'string' ? original : event.id,
    type: event.type,
    data: event.data,
    metadata: metadata as unknown as EventMetadata,
    streamName,
    revision: Number(event.revision),
    position: toPosition(event.position),
  };
}

/**
 * The port's position for an event: its `$all` COMMIT position, as a JS number.
 *
 * Why commit and not prepare: `$all` is ordered by (commit, prepare). Appends through gRPC are
 * implicit transactions whose events are each a log record flagged committed, and the server
 * reports such an event's commit position as the log position of its own record, both in
 * `$all` reads and in stream reads: unique per event, strictly increasing in commit order, and a
 * record boundary that a `$all` read can start from (which `readAll` does). The prepare
 * position, on the other hand, is reported as the TRANSACTION's position: the same for every
 * event of one multi-event append. (Events of legacy explicit TCP transactions share one commit
 * position; this store never writes any, and `readAll` fails loudly if positions ever repeat.)
 */
export function toPosition(position: Position | undefined): number {
  if (!position || position.commit <= 0n) {
    throw new Error('EventStoreDB gave an event no $all position (servers before 22.6 do not, for stream reads)');
  }
  if (position.commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`$all position ${position.commit} is beyond Number.MAX_SAFE_INTEGER`);
  }
  return Number(position.commit);
}

/**
 * Where a `$all` catch-up continuing after `after` starts: the start of the log, or that event's own
 * position (a subscription starts after it; readAll drops it should the server send it).
 */
export function toReadPosition(after: number): ReadPosition {
  return after === 0 ? START : { commit: BigInt(after), prepare: BigInt(after) };
}

export interface NamespaceFilter {
  /** Stream-name regex (.NET dialect, as EventStoreDB applies it; these constructs mean the same in JS). */
  readonly regex: string;
  /** The same test client-side, plus: no system event types (`$...`). */
  includes(storedStreamName: string, eventType: string): boolean;
}

/**
 * Which streams of `$all` are this store's log: its namespace, no system streams (`$...`), no
 * checkpoint streams, not the leader lease.
 */
export function namespaceFilter(namespace: string): NamespaceFilter {
  if (!NAMESPACE_PATTERN.test(namespace)) throw new RangeError(`invalid namespace ${JSON.stringify(namespace)}`);
  const escaped = namespace.replace(/\./g, '\\.');
  const checkpoints = CHECKPOINT_STREAM_PREFIX.replace(/\./g, '\\.');
  const leader = LEADER_STREAM.replace(/\./g, '\\.');
  return {
    regex: `^(?!\\$)${escaped}(?!${checkpoints})(?!${leader}$)`,
    includes: (stored, type) =>
      !stored.startsWith('$') &&
      stored.startsWith(namespace) &&
      !stored.startsWith(namespace + CHECKPOINT_STREAM_PREFIX) &&
      stored !== namespace + LEADER_STREAM &&
      !type.startsWith('$'),
  };
}

/** The shared idempotency rule (append-rule.ts) against the events of the stream as read. */
export function repeatOrConflictIn(
  streamName: string,
  events: readonly NewEvent[],
  existing: readonly RecordedEvent[],
  lastRevision = existing.length === 0 ? -1 : existing[existing.length - 1].revision,
): AppendResult | undefined {
  const byId = new Map(existing.map((event) => [event.eventId, event]));
  return repeatOrConflict(streamName, events, (eventId) => byId.get(eventId), lastRevision);
}


/** A port stream name, refused when empty or one the adapter or EventStoreDB reserves. */
export function checkStreamName(streamName: string): void {
  if (streamName === '' || streamName.startsWith('$') || streamName.startsWith(CHECKPOINT_STREAM_PREFIX) || streamName === LEADER_STREAM) {
    throw new RangeError(
      `stream name ${JSON.stringify(streamName)} is empty or reserved ($..., ${CHECKPOINT_STREAM_PREFIX}..., ${LEADER_STREAM})`,
    );
  }
}

export function isMissingStream(error: unknown): boolean {
  return error instanceof StreamNotFoundError || error instanceof NoStreamError;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Every event of a (bounded) read. Always read to the end: leaving a client read early (return
 * or throw inside `for await`) leaves its gRPC call open, and the client's dispose() then waits
 * for it forever.
 */
export async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of read) out.push(item);
  return out;
}

/** RFC 4122 version 5 (name-based, SHA-1). */
function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
