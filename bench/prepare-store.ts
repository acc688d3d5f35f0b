/**
 * Prepares the store that `npm run bench -- --only=a --prepared=...` places orders on: about 1M
 * events of finished order stories (bench/event-log.ts, the domain's own deciders) and 100k pending
 * orders, written straight through the event store (queued appends share commits), then the
 * service started once in this process until its followers have read the whole log, so that the
 * checkpoints, the open-work index and the report tables are in the store too.
 *
 *   node dist/bench/prepare-store.js [--store=sqlite|postgres] [--events=1000000] [--pending=100000]
 *     [--dir=data/bench-prepared-<store>]   SQLite: the DATA_DIR it writes; PostgreSQL: holds only the manifest
 *     [--schema=payguard_bench_prepared]    PostgreSQL: the schema it writes (at DATABASE_URL)
 *
 * It writes `<dir>/prepared.json` last: a directory with it is complete, and is reused as it is
 * (the bench copies it before each use, so the prepared store never grows).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { EventStore, NewEvent } from '../src/application/ports/event-store.port.js';
import { decideOrder, initialOrderState } from '../src/domain/order/order.decider.js';
import { orderStream } from '../src/domain/shared/stream-names.js';
import { startPayguard } from '../src/infrastructure/bootstrap.js';
import { PostgresEventStore } from '../src/infrastructure/event-store/postgres.event-store.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite.event-store.js';
import { numberOption, options } from './args.js';
import { benchStore, DATABASE_URL, type BenchStore } from './bench-store.js';
import { fillLog } from './event-log.js';

export interface PreparedManifest {
  readonly store: BenchStore;
  readonly dir: string;
  readonly schema: string | null;
  readonly events: number;
  readonly pendingOrders: number;
  readonly fillSeconds: number;
  readonly catchUpSeconds: number;
  readonly preparedAt: string;
}

/** Pending orders stay pending for a year: the sweep must not expire them during a run. */
const PENDING_VALIDITY_MS = 365 * 24 * 3_600_000;

/** `count` pending orders, one PlaceOrder each, decided by the domain as the service would. */
async function writePending(store: EventStore, count: number): Promise<void> {
  let queued: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const now = new Date();
    const orderId = `prep_pending_${i}`;
    const events = decideOrder(
      {
        type: 'PlaceOrder',
        data: {
          orderId,
          merchantId: null,
          amount: 1999,
          currency: 'CNY',
          expiresAt: new Date(now.getTime() + PENDING_VALIDITY_MS).toISOString(),
          requestedExpiry: { expiresInSeconds: PENDING_VALIDITY_MS / 1000 },
          description: 'prepared pending order',
        },
        metadata: { now },
      },
      initialOrderState,
    );
    const recorded: NewEvent[] = events.map((event) => ({
      eventId: randomUUID(),
      type: event.type,
      data: event.data as Record<string, unknown>,
      metadata: { occurredAt: now.toISOString(), correlationId: randomUUID(), causationId: null, schemaVersion: 1 },
    }));
    queued.push(store.append(orderStream(orderId), recorded, 'no-stream'));
    if (queued.length >= 2000) {
      await Promise.all(queued);
      queued = [];
    }
  }
  await Promise.all(queued);
}

/**
 * The store with each stream's appends run one after another, in the order asked: fillLog queues
 * up to 2,000 appends at once, and on PostgreSQL (a pool, not one queue) a stream's next append
 * could otherwise run before the one it follows had committed.
 */
function inStreamOrder(store: EventStore): EventStore {
  const tails = new Map<string, Promise<unknown>>();
  const append: EventStore['append'] = (stream, events, expected) => {
    const next = (tails.get(stream) ?? Promise.resolve()).then(() => store.append(stream, events, expected));
    const tail = next.catch(() => undefined);
    tails.set(stream, tail);
    void tail.then(() => {
      if (tails.get(stream) === tail) tails.delete(stream);
    });
    return next;
  };
  return new Proxy(store, { get: (target, name) => (name === 'append' ? append : Reflect.get(target, name, target)) });
}

export async function prepareStore(
  settings: { store: BenchStore; events: number; pending: number; dir: string; schema: string },
  log: (line: string) => void,
): Promise<PreparedManifest> {
  const manifestFile = join(settings.dir, 'prepared.json');
  rmSync(settings.dir, { recursive: true, force: true });
  mkdirSync(settings.dir, { recursive: true });
  const postgres = settings.store === 'postgres';
  if (postgres) {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${settings.schema}" CASCADE`);
    await client.end();
  }
  const started = process.hrtime.bigint();
  const store = postgres
    ? await PostgresEventStore.open({ connectionString: DATABASE_URL, schema: settings.schema })
    : new SqliteEventStore({ file: join(settings.dir, 'payguard.db') });
  const history = Math.max(0, settings.events - settings.pending);
  log(`filling ${postgres ? `schema ${settings.schema}` : settings.dir}: ~${history} events of finished stories, then ${settings.pending} pending orders`);
  const filled = await fillLog(postgres ? inStreamOrder(store) : store, history);
  await writePending(store, settings.pending);
  const events = filled.events + settings.pending;
  if (store instanceof SqliteEventStore) store.database.pragma('wal_checkpoint(TRUNCATE)');
  await store.close();
  const fillSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  log(`filled in ${fillSeconds.toFixed(1)} s; starting the service once so its followers read the whole log`);

  const catchUpStart = process.hrtime.bigint();
  const running = await startPayguard({
    env: {
      PORT: '0',
      DATA_DIR: settings.dir,
      ...(postgres && { EVENT_STORE: 'postgres', DATABASE_URL, DATABASE_SCHEMA: settings.schema }),
    },
    host: '127.0.0.1',
    logger: ['error'],
  });
  try {
    await running.workers.settled(await running.store.headPosition(), 3_600_000);
  } finally {
    await running.close();
  }
  const catchUpSeconds = Number(process.hrtime.bigint() - catchUpStart) / 1e9;
  const manifest: PreparedManifest = {
    store: settings.store,
    dir: settings.dir,
    schema: postgres ? settings.schema : null,
    events,
    pendingOrders: settings.pending,
    fillSeconds: Math.round(fillSeconds * 10) / 10,
    catchUpSeconds: Math.round(catchUpSeconds * 10) / 10,
    preparedAt: new Date().toISOString(),
  };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  log(`followers caught up in ${catchUpSeconds.toFixed(1)} s; ${manifestFile} written`);
  return manifest;
}

if (process.argv[1]?.endsWith('prepare-store.js')) {
  const args = options();
  const store = benchStore(args.get('store'));
  const dir = resolve(args.get('dir') ?? `data/bench-prepared-${store}`);
  if (existsSync(join(dir, 'prepared.json')) && args.get('force') === undefined) {
    console.error(`${dir} is already prepared (prepared.json); --force prepares it again`);
    process.exit(0);
  }
  await prepareStore(
    {
      store,
      events: numberOption(args, 'events', 1_000_000),
      pending: numberOption(args, 'pending', 100_000),
      dir,
      schema: args.get('schema') ?? 'payguard_bench_prepared',
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  process.exit(0);
}
