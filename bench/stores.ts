/**
 * Event store throughput, SQLite vs PostgreSQL: appends with one writer and with 8 concurrent
 * writers (each its own stream, one event per append, awaited before the next, as command
 * handlers do), then a replay of the whole log through `readAll` in batches of 1000.
 * PostgreSQL twice: with group commit, as the service runs it, and with a transaction per append.
 * `npm run bench:stores`; PostgreSQL at DATABASE_URL (default the local one), in a scratch schema.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { CheckpointStore, EventStore, NewEvent } from '../src/application/ports/event-store.port.js';
import { PostgresEventStore } from '../src/infrastructure/event-store/postgres.event-store.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite.event-store.js';
import { formatInt, median } from './stats.js';

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

function event(): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'OrderPlaced',
    data: { orderId: randomBytes(8).toString('hex'), amount: 1999, currency: 'CNY', expiresAt: new Date().toISOString() },
    metadata: { occurredAt: new Date().toISOString(), correlationId: randomUUID(), causationId: null, schemaVersion: 1 },
  };
}

/** Appends for SECONDS with `writers` concurrent loops; returns appends per second. */
async function appendRate(store: EventStore, writers: number): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let appends = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      const stream = `order-${randomUUID()}`;
      for (let revision = -1; performance.now() < deadline; revision++) {
        await store.append(stream, [event()], revision < 0 ? 'no-stream' : revision);
        appends++;
      }
    }),
  );
  return appends / SECONDS;
}

async function replayRate(store: EventStore): Promise<{ events: number; perSecond: number }> {
  const started = performance.now();
  let events = 0;
  for (let after = 0; ; ) {
    const batch = await store.readAll(after, 1000);
    if (batch.length === 0) break;
    events += batch.length;
    after = batch[batch.length - 1].position;
  }
  return { events, perSecond: events / ((performance.now() - started) / 1000) };
}

async function measure(name: string, open: () => Promise<EventStore & CheckpointStore>, cleanup: () => Promise<void>) {
  const store = await open();
  try {
    const single = await appendRate(store, 1);
    const eight = await appendRate(store, 8);
    const replays = [await replayRate(store), await replayRate(store), await replayRate(store)];
    return { name, single, eight, replayEvents: replays[0].events, replay: median(replays.map((r) => r.perSecond)) };
  } finally {
    await store.close();
    await cleanup();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'payguard-bench-stores-'));
const schema = `payguard_bench_${randomBytes(4).toString('hex')}`;
async function dropSchema(): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}
const results = [
  await measure('SQLite (WAL, synchronous=FULL)', async () => new SqliteEventStore({ file: join(dir, 'payguard.db') }), async () =>
    rmSync(dir, { recursive: true, force: true }),
  ),
  await measure('PostgreSQL (local), group commit (as shipped)', () => PostgresEventStore.open({ connectionString: DATABASE_URL, schema }), dropSchema),
  await measure(
    'PostgreSQL (local), a transaction per append',
    () => PostgresEventStore.open({ connectionString: DATABASE_URL, schema, groupCommit: false }),
    dropSchema,
  ),
];
console.log(`| store | appends/s, 1 writer | appends/s, 8 writers | 8 writers / 1 | replay events/s (median of 3, log of N events) |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (const r of results) {
  console.log(
    `| ${r.name} | ${formatInt(r.single)} | ${formatInt(r.eight)} | ${(r.eight / r.single).toFixed(2)}x | ${formatInt(r.replay)} (${formatInt(r.replayEvents)}) |`,
  );
}
