import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { ANY, NO_STREAM, START, WrongExpectedVersionError } from '@eventstore/db-client';
import { ConcurrencyError, IdempotencyConflictError, type NewEvent, type RecordedEvent } from '../../src/application/ports/event-store.port.js';
import { ConfigError, loadConfig } from '../../src/infrastructure/config/config.js';
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/eventstoredb.event-store.js';
import {
  fromStoredEvent,
  namespaceFilter,
  ORIGINAL_EVENT_ID_KEY,
  repeatOrConflictIn,
  toConcurrencyError,
  toEsdbEventId,
  toEsdbExpectedRevision,
  toEventData,
  toPosition,
  toReadPosition,
} from '../../src/infrastructure/event-store/eventstoredb-mapping.js';
import { openEventStore } from '../../src/infrastructure/event-store/open-event-store.js';

/**
 * The EventStoreDB adapter's pure mappings (revisions, errors, ids, positions, filter), the client
 * entry points it may use, and its configuration: no server needed, always run. Against a server
 * (the stand-in, or a real one): eventstoredb.event-store.spec.ts.
 */
describe('EventStoreDB adapter mappings (no server)', () => {
  describe('expected revision', () => {
    it('maps no-stream to NO_STREAM, a revision to a bigint, any to ANY', () => {
      expect(toEsdbExpectedRevision('no-stream')).toBe(NO_STREAM);
      expect(toEsdbExpectedRevision('any')).toBe(ANY);
      expect(toEsdbExpectedRevision(0)).toBe(0n);
      expect(toEsdbExpectedRevision(41)).toBe(41n);
    });

    it('refuses a revision that is not an integer >= 0', () => {
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) expect(() => toEsdbExpectedRevision(bad)).toThrow(RangeError);
    });
  });

  describe('wrong expected version', () => {
    function wrong(current: bigint | typeof NO_STREAM): WrongExpectedVersionError {
      return new WrongExpectedVersionError(undefined, { streamName: 'ns:order-1', expected: 1n, current });
    }

    it('becomes the port ConcurrencyError with the actual revision it carries', () => {
      const error = toConcurrencyError(wrong(4n), 'order-1', 1);

      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({ streamName: 'order-1', expected: 1, actual: 4 });
    });

    it('says no-stream when the stream does not exist, and uses the fallback when the error carries nothing', () => {
      expect(toConcurrencyError(wrong(NO_STREAM), 'order-1', 0)).toMatchObject({ expected: 0, actual: 'no-stream' });
      const bare = Object.assign(wrong(1n), { actualVersion: undefined }) as unknown as WrongExpectedVersionError;
      expect(toConcurrencyError(bare, 'order-1', 'no-stream', 7)).toMatchObject({ expected: 'no-stream', actual: 7 });
    });
  });

  describe('event ids', () => {
    it('keeps a lower-case canonical UUID as it is', () => {
      const id = randomUUID();
      expect(toEsdbEventId(id)).toBe(id);
    });

    it('maps any other id to a stable name-based (v5) UUID', () => {
      const v5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
      const upper = randomUUID().toUpperCase();
      for (const id of ['refund-p-1', upper, '00000000-0000-0000-0000-000000000000', '', 'ü']) {
        expect(toEsdbEventId(id)).toMatch(v5);
        expect(toEsdbEventId(id)).toBe(toEsdbEventId(id));
      }
      expect(toEsdbEventId('abc')).toBe('67af8507-17ae-53d3-986b-748356f8ec96'); // RFC 4122 v5, checked against the uuid package
      expect(toEsdbEventId(upper)).not.toBe(toEsdbEventId(upper.toLowerCase()));
      expect(toEsdbEventId('a')).not.toBe(toEsdbEventId('b'));
    });

    it('stores the original of a mapped id in the metadata and reads it back, metadata otherwise as written', () => {
      for (const eventId of [randomUUID(), 'refund-p-1']) {
        const written = newEvent({ eventId });
        const data = toEventData(written);
        const mapped = data.id !== eventId;

        expect(data).toMatchObject({ id: toEsdbEventId(eventId), type: written.type, data: written.data, contentType: 'application/json' });
        expect((data.metadata as Record<string, unknown>)[ORIGINAL_EVENT_ID_KEY]).toBe(mapped ? eventId : undefined);
        const read = fromStoredEvent(
          { id: data.id, type: data.type, data: data.data, metadata: data.metadata, revision: 3n, position: { commit: 900n, prepare: 800n } },
          'order-1',
        );
        expect(read).toEqual({ ...written, streamName: 'order-1', revision: 3, position: 900 });
      }
    });

    it('refuses to read back an event whose data is not a JSON object', () => {
      const stored = { id: randomUUID(), type: 'X', data: new Uint8Array([1]), metadata: {}, revision: 0n, position: { commit: 9n, prepare: 9n } };
      expect(() => fromStoredEvent(stored, 'order-1')).toThrow(/not written by Payguard/);
    });
  });

  describe('positions', () => {
    it('takes the commit position (unique per event), not the prepare position (shared by an append)', () => {
      expect(toPosition({ commit: 1234n, prepare: 1000n })).toBe(1234);
    });

    it('refuses a missing, zero or unsafe position', () => {
      expect(() => toPosition(undefined)).toThrow(/22\.6/);
      expect(() => toPosition({ commit: 0n, prepare: 0n })).toThrow();
      expect(() => toPosition({ commit: 2n ** 53n, prepare: 0n })).toThrow(RangeError);
    });

    it('catches up $all from the start, or from the event at `after` (dropped by readAll should the server send it)', () => {
      expect(toReadPosition(0)).toBe(START);
      expect(toReadPosition(4096)).toEqual({ commit: 4096n, prepare: 4096n });
    });
  });

  describe('namespace filter', () => {
    // [namespace, stream, event type, the server-side regex matches, part of the log]
    const cases: [string, string, string, boolean, boolean][] = [
      ['', 'order-1', 'OrderPlaced', true, true],
      ['', '$stats-127.0.0.1:2113', 'x', false, false],
      ['', '$$order-1', '$metadata', false, false],
      ['', 'payguard_checkpoint-projector', 'PayguardCheckpoint', false, false],
      ['', 'payguard_leader', 'PayguardLeaseRenewed', false, false], // the leader lease
      ['', '$$payguard_leader', '$metadata', false, false],
      ['', 'order-1', '$>', true, false], // event types are checked client-side
      ['t1.a:', 't1.a:order-1', 'OrderPlaced', true, true],
      ['t1.a:', 'order-1', 'OrderPlaced', false, false],
      ['t1.a:', 't1xa:order-1', 'OrderPlaced', false, false],
      ['t1.a:', 't2.a:order-1', 'OrderPlaced', false, false],
      ['t1.a:', 't1.a:payguard_checkpoint-projector', 'PayguardCheckpoint', false, false],
      ['t1.a:', '$$t1.a:payguard_checkpoint-projector', '$metadata', false, false],
      ['t1.a:', 't1.a:payguard_leader', 'PayguardLeaseTaken', false, false],
      ['t1.a:', 't1.a:payguard_leader-1', 'OrderPlaced', true, true], // only the lease stream itself is left out
    ];

    it.each(cases)('namespace %j, stream %j, type %j: regex matches %s, part of the log %s', (namespace, stream, type, matches, included) => {
      const filter = namespaceFilter(namespace);
      expect(new RegExp(filter.regex).test(stream)).toBe(matches);
      expect(filter.includes(stream, type)).toBe(included);
    });

    it('refuses a namespace it would have to escape', () => {
      expect(() => namespaceFilter('a b')).toThrow(RangeError);
      expect(() => namespaceFilter('$x')).toThrow(RangeError);
    });
  });

  describe('idempotency rule', () => {
    const [a, b, c] = [newEvent(), newEvent(), newEvent()];
    const existing = [a, b].map((e, i): RecordedEvent => ({ ...e, streamName: 's', revision: i, position: 100 * (i + 1) }));

    it('answers a whole repeat with the stream as it is now and the original position', () => {
      expect(repeatOrConflictIn('s', [a, b], existing)).toEqual({ lastRevision: 1, lastPosition: 200, duplicate: true });
      expect(repeatOrConflictIn('s', [b], existing)).toEqual({ lastRevision: 1, lastPosition: 200, duplicate: true });
      expect(repeatOrConflictIn('s', [a], existing)).toEqual({ lastRevision: 1, lastPosition: 100, duplicate: true });
    });

    it('refuses partial repeats and doubled ids, and lets a new batch through', () => {
      for (const batch of [[a, c], [c, b], [b, a], [a, b, c], [c, c]]) {
        expect(() => repeatOrConflictIn('s', batch, existing)).toThrow(IdempotencyConflictError);
      }
      expect(repeatOrConflictIn('s', [c], existing)).toBeUndefined();
      expect(repeatOrConflictIn('s', [c], [])).toBeUndefined();
    });
  });

  describe('the client it uses', () => {
    it("reaches @eventstore/db-client through its package root only, never its dist/ or generated/ files", async () => {
      const folder = new URL('../../src/infrastructure/event-store/', import.meta.url);
      const files = (await readdir(folder)).filter((name) => name.startsWith('eventstoredb'));
      expect(files.length).toBeGreaterThanOrEqual(5);
      for (const name of files) {
        const source = await readFile(new URL(name, folder), 'utf8');
        const specifiers = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
        expect(specifiers.filter((s) => s.startsWith('@eventstore/') && s !== '@eventstore/db-client')).toEqual([]);
        expect(specifiers.filter((s) => s.includes('generated') || s.startsWith('@grpc/'))).toEqual([]);
      }
    });
  });

  describe('openEventStore with EVENT_STORE=eventstoredb', () => {
    it('refuses to start without EVENTSTORE_URL, saying so', async () => {
      const error = await openEventStore(loadConfig({ EVENT_STORE: 'eventstoredb' })).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/EVENTSTORE_URL/);
    });

    it('opens the store at EVENTSTORE_URL (here a closed port: the connection, not the config, fails)', async () => {
      const config = loadConfig({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://127.0.0.1:1?tls=false' });

      const error = await openEventStore(config).catch((e: unknown) => e);

      expect(error).not.toBeInstanceOf(ConfigError);
      expect(String((error as Error).message)).toMatch(/UNAVAILABLE|ECONNREFUSED|connect/);
    });

    it('refuses a malformed connection string or namespace before connecting', async () => {
      await expect(EventStoreDbEventStore.open({ connectionString: 'postgres://x' })).rejects.toThrow();
      await expect(EventStoreDbEventStore.open({ connectionString: 'esdb://127.0.0.1:1?tls=false', namespace: 'a b' })).rejects.toThrow(
        RangeError,
      );
    });
  });
});

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'Tested',
    data: { amount: 1999, nested: { ok: true, none: null } },
    metadata: { occurredAt: '2025-01-02T03:04:05.678Z', correlationId: randomUUID(), causationId: null, schemaVersion: 1 },
    ...overrides,
  };
}
