import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NewEvent } from '../../src/application/ports/event-store.port.js';
import { SqliteEventStore } from '../../src/infrastructure/event-store/sqlite.event-store.js';
import { describeEventStoreContract } from './event-store.contract.js';

let dir: string;
let file: string;
let opened = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'payguard-sqlite-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A new file in a directory that does not exist yet, so every test also checks it is created. */
function freshFile(): string {
  opened++;
  return join(dir, `run-${opened}`, 'events.sqlite');
}

describeEventStoreContract(
  'SqliteEventStore',
  async () => new SqliteEventStore({ file: (file = freshFile()) }),
  async () => new SqliteEventStore({ file }),
);

describe('SqliteEventStore file', () => {
  const stores: SqliteEventStore[] = [];
  function openStore(at: string): SqliteEventStore {
    const store = new SqliteEventStore({ file: at });
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it('creates its directory and runs in WAL mode with full sync, so commits survive a crash', () => {
    const at = freshFile();
    const store = openStore(at);

    expect(existsSync(at)).toBe(true);
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('synchronous', { simple: true })).toBe(2); // FULL
  });

  it('records its schema version and opens its own file again without migrating twice', async () => {
    const at = freshFile();
    await openStore(at).close();

    const again = openStore(at);

    expect(again.database.pragma('user_version', { simple: true })).toBe(2);
  });

  it('adds the keyed-checkpoint table to a file from before it, keeping its events and checkpoints', async () => {
    const at = freshFile();
    const old = openStore(at);
    await old.append('order-1', [event()], 'no-stream');
    await old.save('open-work', 1, { pendingOrders: { 'o-1': '2026-11-26T10:30:00.000Z' } });
    // What a file written before the table existed looks like: schema version 1, no checkpoint_rows.
    old.database.exec('DROP TABLE checkpoint_rows');
    old.database.pragma('user_version = 1');
    await old.close();

    const upgraded = openStore(at);

    expect(upgraded.database.pragma('user_version', { simple: true })).toBe(2);
    expect(await upgraded.readAll(0, 10)).toHaveLength(1);
    expect(await upgraded.loadRows('open-work')).toEqual({
      position: 1,
      state: { pendingOrders: { 'o-1': '2026-11-26T10:30:00.000Z' } },
      rows: [],
    });
    await upgraded.saveRows('open-work', 2, [{ key: 'pendingOrders/o-1', value: '2026-11-26T10:30:00.000Z' }]);
    expect(await upgraded.loadRows('open-work')).toEqual({
      position: 2,
      state: null,
      rows: [{ key: 'pendingOrders/o-1', value: '2026-11-26T10:30:00.000Z' }],
    });
  });

  it('commits a keyed save in the same group as appends, and a refused one undoes only itself', async () => {
    const store = openStore(freshFile());
    await store.saveRows('open-work', 5, [{ key: 'a', value: 1 }]);

    // Asked for in one turn of the event loop: one shared commit, each write in its own savepoint.
    const outcomes = await Promise.allSettled([
      store.append('order-1', [event()], 'no-stream'),
      store.saveRows('open-work', 4, [{ key: 'a', value: null }, { key: 'b', value: 2 }]),
      store.saveRows('other', 1, [{ key: 'c', value: 3 }]),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.readAll(0, 10)).toHaveLength(1);
    expect(await store.loadRows('open-work')).toEqual({ position: 5, state: null, rows: [{ key: 'a', value: 1 }] });
    expect(await store.loadRows('other')).toEqual({ position: 1, state: null, rows: [{ key: 'c', value: 3 }] });
  });

  it('refuses a file written by a newer schema', async () => {
    const at = freshFile();
    const store = openStore(at);
    store.database.pragma('user_version = 99');
    await store.close();

    expect(() => new SqliteEventStore({ file: at })).toThrow(/schema version 99/);
  });

  it('stores data and metadata as JSON text in the events table', async () => {
    const store = openStore(freshFile());
    const e = event();
    await store.append('order-1', [e], 'no-stream');

    const row = store.database.prepare('SELECT * FROM events').get();

    expect(row).toEqual({
      position: 1,
      stream_name: 'order-1',
      revision: 0,
      event_id: e.eventId,
      type: e.type,
      data: JSON.stringify(e.data),
      metadata: JSON.stringify(e.metadata),
    });
  });

  it('keeps positions gap-free when two handles (as two processes would) append to one file', async () => {
    const at = freshFile();
    const [one, two] = [openStore(at), openStore(at)];

    for (let i = 0; i < 10; i++) {
      await (i % 2 ? one : two).append(`order-${i}`, [event(), event()], 'no-stream');
    }
    await expect(one.append('order-0', [event()], 'no-stream')).rejects.toThrow(/expected revision no-stream/);

    expect((await one.readAll(0, 100)).map((e) => e.position)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await two.headPosition()).toBe(20);
  });

  it('rejects use after close', async () => {
    const store = openStore(freshFile());
    await store.close();

    await expect(store.ping()).rejects.toThrow();
  });
});

function event(): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'PaymentSucceeded',
    data: { orderId: 'o-1', amount: 1999, currency: 'CNY' },
    metadata: { occurredAt: '2025-01-02T03:04:05.678Z', correlationId: 'c-1', causationId: null, schemaVersion: 1 },
  };
}
