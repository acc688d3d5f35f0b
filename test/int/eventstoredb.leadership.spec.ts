import { randomBytes, randomUUID } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ANY, BACKWARDS, END, EventStoreDBClient, FORWARDS, START, jsonEvent } from '@eventstore/db-client';
import { EventStoreDbEventStore, LEADER_STREAM } from '../../src/infrastructure/event-store/eventstoredb.event-store.js';
import {
  EventStoreDbLeadership,
  LEASE_RELEASED,
  LEASE_RENEWED,
  LEASE_TAKEN,
} from '../../src/infrastructure/event-store/eventstoredb.leadership.js';
import { EventStoreStandIn } from '../support/eventstoredb-stand-in.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { sleep, until } from '../support/wait.js';

/**
 * Leader election on EventStoreDB (a lease kept with expected revisions), through the real
 * @eventstore/db-client: against the in-process stand-in (test/support/eventstoredb-stand-in.ts,
 * NOT EventStoreDB), and against a real EventStoreDB at EVENTSTORE_URL when it is set (each test
 * in a fresh random namespace). Instances are separate clients, as separate processes would be.
 * Small ttl and renewal periods; the assertions are on who leads and in what order, and on lower
 * bounds the lease promises (never on how fast anything is).
 */
const EVENTSTORE_URL = process.env.EVENTSTORE_URL || '';
const SHOWN_URL = EVENTSTORE_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
const RUN = randomBytes(3).toString('hex');
let namespaces = 0;
const TTL_MS = 600;
const RENEW_MS = 50;

function freshNamespace(): string {
  return `lease-${RUN}-${++namespaces}:`;
}

describe('EventStoreDbLeadership options', () => {
  it('refuses a ttl that leaves the leader no two renewals before it must stop', () => {
    const client = EventStoreDBClient.connectionString('esdb://127.0.0.1:1?tls=false');
    expect(() => new EventStoreDbLeadership({ client, namespace: '', ttlMs: 100, renewMs: 50 })).toThrow(RangeError);
    expect(() => new EventStoreDbLeadership({ client, namespace: '', ttlMs: 100, renewMs: 0 })).toThrow(RangeError);
    expect(new EventStoreDbLeadership({ client, namespace: '', ttlMs: 101, renewMs: 50 }).isLeader).toBe(false);
  });
});

describe('against an in-process stand-in for EventStoreDB (not EventStoreDB)', () => {
  let standIn: EventStoreStandIn;
  beforeAll(async () => {
    standIn = await EventStoreStandIn.start();
  });
  afterAll(async () => {
    await standIn?.stop();
  });

  describeLeadership(() => standIn.url);

  it('runs the background work on one of two Payguard instances sharing the store, and hands it over on shutdown', async () => {
    const own = await EventStoreStandIn.start(); // the apps use the default namespace: a database of their own
    const apps: TestApp[] = [];
    try {
      for (let i = 0; i < 2; i++) apps.push(await startTestApp({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: own.url }));
      const leaders = () => apps.filter((app) => app.running.workers.isLeader);
      await until(() => leaders().length === 1, 10_000);
      const [leader] = leaders();
      const standby = apps.find((app) => app !== leader)!;
      expect(standby.running.workers.isStarted).toBe(true); // campaigning

      await leader.close(); // resigns: releases the lease
      apps.splice(apps.indexOf(leader), 1);
      await until(() => standby.running.workers.isLeader, 10_000);
    } finally {
      for (const app of apps) await app.close();
      await own.stop();
    }
  });
});

if (EVENTSTORE_URL) {
  describe(`against EventStoreDB at ${SHOWN_URL}`, () => {
    describeLeadership(() => EVENTSTORE_URL);
  });
} else {
  // Reported by jest as skipped, with the reason in the name (see the EventStoreDB event store spec).
  describe.skip('leader lease against a real EventStoreDB (skipped: EVENTSTORE_URL is not set; README, "Running on EventStoreDB")', () => {
    it('elects, renews, hands over and deposes against the server', () => undefined);
  });
}

/** What happened to whom, in order, on this process's monotonic clock. */
interface Happening {
  readonly who: string;
  readonly what: 'elected' | 'deposed' | 'resigned' | 'crashed' | 'cut off';
  readonly at: number;
}

interface Instance {
  readonly name: string;
  readonly client: EventStoreDBClient;
  readonly leadership: EventStoreDbLeadership;
  readonly errors: unknown[];
  campaign(): Promise<void>;
}

function describeLeadership(url: () => string): void {
  describe('EventStoreDbLeadership', () => {
    let namespace: string;
    let timeline: Happening[];
    const instances: Instance[] = [];
    const clients: EventStoreDBClient[] = [];
    const links: Link[] = [];

    let reader: EventStoreDBClient | null;

    beforeEach(() => {
      reader = null;
      namespace = freshNamespace();
      timeline = [];
    });
    afterEach(async () => {
      for (const instance of instances.splice(0)) await instance.leadership.resign();
      for (const link of links.splice(0)) link.close();
      for (const client of clients.splice(0)) await client.dispose().catch(() => undefined);
    });

    function connect(): EventStoreDBClient {
      const client = EventStoreDBClient.connectionString(url());
      clients.push(client);
      return client;
    }

    function instance(name: string, options: { ttlMs?: number; client?: EventStoreDBClient } = {}): Instance {
      const client = options.client ?? connect();
      const errors: unknown[] = [];
      const leadership = new EventStoreDbLeadership({
        client,
        namespace,
        instanceId: name,
        ttlMs: options.ttlMs ?? TTL_MS,
        renewMs: RENEW_MS,
        onError: (error) => errors.push(error),
      });
      const made: Instance = {
        name,
        client,
        leadership,
        errors,
        campaign: () =>
          leadership.campaign({
            onElected: async () => void timeline.push({ who: name, what: 'elected', at: performance.now() }),
            onDeposed: async () => void timeline.push({ who: name, what: 'deposed', at: performance.now() }),
          }),
      };
      instances.push(made);
      return made;
    }

    function happened(who: string, what: Happening['what']): Happening[] {
      return timeline.filter((h) => h.who === who && h.what === what);
    }

    function mark(who: string, what: Happening['what']): number {
      const at = performance.now();
      timeline.push({ who, what, at });
      return at;
    }

    /** The lease stream's last event, read by a client of its own. */
    async function lastLeaseEvent(): Promise<{ revision: bigint; type: string; data: unknown }> {
      reader ??= connect();
      const read = reader.readStream(`${namespace}${LEADER_STREAM}`, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
      const events = [];
      for await (const { event } of read) if (event) events.push({ revision: event.revision, type: event.type, data: event.data });
      return events[0];
    }

    /**
     * The first lease event `who` wrote after `afterRevision`: what it did on taking over, which a
     * renewal written since (every RENEW_MS) must not hide from the check.
     */
    async function firstLeaseEventOf(who: string, afterRevision = -1n): Promise<{ revision: bigint; type: string; data: unknown } | undefined> {
      reader ??= connect();
      const read = reader.readStream(`${namespace}${LEADER_STREAM}`, { direction: FORWARDS, fromRevision: START, maxCount: 10_000 });
      const events = [];
      for await (const { event } of read) if (event) events.push({ revision: event.revision, type: event.type, data: event.data });
      return events.find((event) => event.revision > afterRevision && (event.data as { instanceId?: string }).instanceId === who);
    }

    it('elects one of two instances and keeps the other standing by while the leader renews', async () => {
      const a = instance('a');
      const b = instance('b');
      await Promise.all([a.campaign(), b.campaign()]);
      await until(() => a.leadership.isLeader || b.leadership.isLeader, 10_000);
      const [leader, standby] = a.leadership.isLeader ? [a, b] : [b, a];

      await sleep(3 * TTL_MS); // several lease lifetimes: the renewals keep the standby out

      expect(leader.leadership.isLeader).toBe(true);
      expect(standby.leadership.isLeader).toBe(false);
      expect(timeline.map(({ who, what }) => `${who} ${what}`)).toEqual([`${leader.name} elected`]);
      expect(await lastLeaseEvent()).toMatchObject({ type: LEASE_RENEWED, data: { instanceId: leader.name, ttlMs: TTL_MS } });
      expect([...a.errors, ...b.errors]).toEqual([]);
    });

    it('hands over at once when the leader resigns: the standby takes a release without waiting for the ttl', async () => {
      const long = 120_000; // a ttl no test waits for: only the release can explain the handover
      const a = instance('a', { ttlMs: long });
      await a.campaign();
      expect(a.leadership.isLeader).toBe(true);
      const b = instance('b', { ttlMs: long });
      await b.campaign();
      expect(b.leadership.isLeader).toBe(false);

      const resigned = mark('a', 'resigned');
      await a.leadership.resign();
      await until(() => b.leadership.isLeader, 10_000);

      expect(a.leadership.isLeader).toBe(false);
      expect(happened('b', 'elected')).toHaveLength(1);
      expect(happened('b', 'elected')[0].at).toBeGreaterThan(resigned);
      expect(await firstLeaseEventOf('b')).toMatchObject({ type: LEASE_TAKEN, data: { instanceId: 'b' } });
    });

    it('after the leader crashes, elects the standby only once the lease has expired', async () => {
      const a = instance('a');
      await a.campaign();
      const b = instance('b');
      await b.campaign();
      await sleep(2 * RENEW_MS); // a few renewals
      const before = await lastLeaseEvent();

      a.leadership.abandon(); // timers stop, nothing released: as kill -9 would
      const crashed = mark('a', 'crashed');
      await until(() => b.leadership.isLeader, 10_000);

      const [elected] = happened('b', 'elected');
      expect(elected.at).toBeGreaterThan(crashed);
      // a's last renewal was sent at most ttl/2 before the crash (or a would have stopped itself),
      // and b waits a whole ttl after seeing it.
      expect(elected.at - crashed).toBeGreaterThanOrEqual(TTL_MS / 2);
      const taken = await firstLeaseEventOf('b', before.revision);
      expect(taken).toMatchObject({ type: LEASE_TAKEN, data: { instanceId: 'b' } });
      expect(a.leadership.isLeader).toBe(false);
    });

    it('when the leader is cut off from the store, it stops itself before the standby is elected', async () => {
      const link = await Link.open(url());
      links.push(link);
      const a = instance('a', { client: EventStoreDBClient.connectionString(link.url) });
      clients.push(a.client);
      await a.campaign();
      const b = instance('b');
      await b.campaign();
      await sleep(2 * RENEW_MS);

      const cut = mark('a', 'cut off');
      link.cut(); // a's renewals now hang unanswered: it keeps running, told nothing
      await until(() => b.leadership.isLeader, 10_000);

      const [deposed] = happened('a', 'deposed');
      const [elected] = happened('b', 'elected');
      expect(deposed).toBeDefined();
      expect(deposed.at).toBeGreaterThan(cut);
      expect(deposed.at).toBeLessThan(elected.at); // never two leaders, even for a moment
      expect(a.leadership.isLeader).toBe(false);
      expect(a.errors.length).toBeGreaterThan(0); // the failed renewals, reported, not thrown
    });

    it('deposes a leader whose renewal is refused, at once, and lets it take the lease again once that expires', async () => {
      const a = instance('a');
      await a.campaign();
      expect(a.leadership.isLeader).toBe(true);

      // Another writer moves the lease on (as a standby's takeover would), and never renews it.
      await connect().appendToStream(
        `${namespace}${LEADER_STREAM}`,
        jsonEvent({ type: LEASE_TAKEN, data: { instanceId: 'intruder', ttlMs: TTL_MS } }),
        { expectedRevision: ANY },
      );
      await until(() => happened('a', 'deposed').length === 1, 10_000);
      expect(a.leadership.isLeader).toBe(false);
      expect(a.errors.map(String).join('\n')).toMatch(/renewal refused/);

      await until(() => happened('a', 'elected').length === 2, 10_000);
      expect(await lastLeaseEvent()).toMatchObject({ type: LEASE_TAKEN, data: { instanceId: 'a' } });
    });

    it('keeps leading when the refused renewal follows one of its own whose answer was lost', async () => {
      const a = instance('a');
      await a.campaign();
      // A renewal of a's that was written although a never heard back, as far as a can tell.
      await connect().appendToStream(
        `${namespace}${LEADER_STREAM}`,
        jsonEvent({ type: LEASE_RENEWED, data: { instanceId: 'a', ttlMs: TTL_MS } }),
        { expectedRevision: ANY },
      );
      const written = await lastLeaseEvent();
      const deadline = Date.now() + 10_000;
      while ((await lastLeaseEvent()).revision < written.revision + 2n) {
        if (Date.now() > deadline) throw new Error('a did not renew after the lost answer');
        await sleep(10);
      }

      expect(a.leadership.isLeader).toBe(true);
      expect(happened('a', 'deposed')).toHaveLength(0);
    });

    it('releases on resign and takes a released or missing lease at once', async () => {
      const a = instance('a', { ttlMs: 120_000 });
      await a.campaign(); // no lease stream yet
      expect(a.leadership.isLeader).toBe(true);
      await a.leadership.resign();
      expect(await lastLeaseEvent()).toMatchObject({ type: LEASE_RELEASED, data: { instanceId: 'a' } });

      await a.campaign(); // campaigning again after a resign
      expect(a.leadership.isLeader).toBe(true);
      expect(happened('a', 'elected')).toHaveLength(2);
      expect(happened('a', 'deposed')).toHaveLength(0);
    });

    it('keeps the lease stream out of the global log, on the store\'s own connection', async () => {
      const store = await EventStoreDbEventStore.open({ connectionString: url(), namespace, onError: () => undefined });
      try {
        const a = instance('a', { client: store.client });
        await a.campaign();
        expect(a.leadership.isLeader).toBe(true);
        await store.append('order-1', [orderPlaced()], 'no-stream');
        await sleep(3 * RENEW_MS); // renewals after the order

        const log = await store.readAll(0, 100);
        expect(log.map((event) => event.streamName)).toEqual(['order-1']);
        expect(await store.headPosition()).toBe(log[0].position);
        await expect(store.append(LEADER_STREAM, [orderPlaced()], 'any')).rejects.toThrow(RangeError);
        await a.leadership.resign();
      } finally {
        await store.close();
      }
    });
  });
}

/**
 * A TCP relay to the server at `target` (its first host) that can be cut: after `cut()` it
 * forwards nothing more either way and connects nothing new, so calls hang, as behind a lost
 * network, rather than failing fast.
 */
class Link {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async open(target: string): Promise<Link> {
    const parsed = /^esdb:\/\/([^@/]*@)?([^:/,?]+):(\d+)(.*)$/.exec(target);
    if (!parsed) throw new Error(`cannot relay ${target}: one esdb://host:port expected`);
    const [, credentials = '', host, port, rest] = parsed;
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const link = new Link(server, `esdb://${credentials}127.0.0.1:${(server.address() as AddressInfo).port}${rest}`);
    server.on('connection', (inbound) => {
      link.sockets.add(inbound);
      if (link.cutOff) return; // accepted, never answered
      const outbound = connect(Number(port), host);
      link.sockets.add(outbound);
      for (const socket of [inbound, outbound]) socket.on('error', () => undefined);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    return link;
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) {
      socket.unpipe();
      socket.pause();
    }
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }
}

function orderPlaced() {
  return {
    eventId: randomUUID(),
    type: 'OrderPlaced',
    data: { orderId: '1' },
    metadata: { occurredAt: '2025-01-02T03:04:05.678Z', correlationId: randomUUID(), causationId: null, schemaVersion: 1 },
  };
}

