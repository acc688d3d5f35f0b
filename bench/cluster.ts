/**
 * Scaling on one PostgreSQL: order placement through one instance against N instances of one
 * cluster (the same DATABASE_SCHEMA, so one leader runs the background work), each cluster on a
 * schema of its own, alternated rounds. The service is started as `npm start` starts it
 * (`startService` of as-run.ts); the load is the same constant body at the same connections in
 * all, spread evenly over the cluster's instances (one autocannon per instance, at once).
 * Reports requests/s, p99, the instances' CPU per request (all of them) and PostgreSQL's.
 *
 *   node dist/bench/cluster.js [--instances=3] [--rounds=3] [--connections=48] [--seconds=10] [--warmup=3]
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberOption, options } from './args.js';
import { BODY, startService, type Payguard } from './as-run.js';
import { scratchStore, storeCommands } from './bench-store.js';
import { commandTicks, commandTicksSince, cpuWindow, processTicks, TICKS_PER_SECOND } from './cpu.js';
import { formatInt, median, round } from './stats.js';

const args = options();
const INSTANCES = numberOption(args, 'instances', 3);
const ROUNDS = numberOption(args, 'rounds', 3);
const CONNECTIONS = numberOption(args, 'connections', 48);
const SECONDS = numberOption(args, 'seconds', 10);
const WARMUP = numberOption(args, 'warmup', 3);
const DATABASE = storeCommands('postgres');

interface Cluster {
  readonly name: string;
  readonly instances: Payguard[];
}

interface Figures {
  readonly requestsPerSecond: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly instancesCpuMsPerRequest: number;
  readonly databaseCpuMsPerRequest: number;
  readonly foreignCores: number | null;
}

/** `seconds` of load on every instance of the cluster at once, the connections shared evenly. */
async function load(cluster: Cluster, seconds: number): Promise<Figures> {
  const pids = cluster.instances.map((instance) => instance.pid);
  const window = cpuWindow(pids, DATABASE);
  const instancesBefore = pids.reduce((sum, pid) => sum + processTicks(pid), 0);
  const database = commandTicks(DATABASE);
  const results = await Promise.all(
    cluster.instances.map((instance, i) =>
      autocannon({
        url: `${instance.url}/orders`,
        method: 'POST',
        // 48 over 3 is 16 each; a remainder goes to the first instances.
        connections: Math.floor(CONNECTIONS / cluster.instances.length) + (i < CONNECTIONS % cluster.instances.length ? 1 : 0),
        duration: seconds,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: BODY,
      }),
    ),
  );
  const cpu = window.stop();
  const total = results.reduce((sum, r) => sum + r.requests.total, 0);
  const perRequest = (ticks: number) => round(((ticks / TICKS_PER_SECOND) * 1000) / Math.max(1, total), 3);
  return {
    requestsPerSecond: round(results.reduce((sum, r) => sum + r.requests.average, 0), 1),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    instancesCpuMsPerRequest: perRequest(pids.reduce((sum, pid) => sum + processTicks(pid), 0) - instancesBefore),
    databaseCpuMsPerRequest: perRequest(commandTicksSince(DATABASE, database)),
    foreignCores: cpu.foreignCores,
  };
}

const stores = [scratchStore('postgres', 'payguard-bench-cluster'), scratchStore('postgres', 'payguard-bench-cluster')];
const dataDirs: string[] = [];
const clusters: Cluster[] = [];
const logDir = mkdtempSync(join(tmpdir(), 'payguard-bench-cluster-logs-'));
try {
  for (const [index, size] of [1, INSTANCES].entries()) {
    const cluster: Cluster = { name: `${size} instance${size === 1 ? '' : 's'}`, instances: [] };
    for (let i = 0; i < size; i++) {
      // One DATA_DIR each, as on separate machines; the schema is the cluster's.
      const dataDir = mkdtempSync(join(tmpdir(), 'payguard-bench-cluster-data-'));
      dataDirs.push(dataDir);
      cluster.instances.push(await startService(`c${index}-${i}`, stores[index], { DATA_DIR: dataDir }, null, logDir));
    }
    clusters.push(cluster);
    console.log(`${cluster.name}: pids ${cluster.instances.map((p) => p.pid).join(', ')}, logs in ${logDir}`);
  }
  const rounds: Record<string, Figures>[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const order = r % 2 === 1 ? clusters : [...clusters].reverse();
    const figures: Record<string, Figures> = {};
    for (const cluster of order) {
      if (WARMUP > 0) await load(cluster, WARMUP);
      const f = await load(cluster, SECONDS);
      figures[cluster.name] = f;
      console.log(
        `  round ${r} ${cluster.name.padEnd(11)} ${f.requestsPerSecond} req/s, p99 ${f.p99} ms, instances ${f.instancesCpuMsPerRequest} + database ${f.databaseCpuMsPerRequest} ms CPU/request; non-2xx ${f.non2xx}, errors ${f.errors}; other processes ${f.foreignCores} cores`,
      );
    }
    rounds.push(figures);
  }
  const [one, many] = clusters.map((c) => c.name);
  const ratios = rounds.map((f) => round(f[many].requestsPerSecond / f[one].requestsPerSecond, 2));
  console.log(`| cluster on one PostgreSQL (median of ${ROUNDS}) | req/s | p99 ms | CPU ms per request: instances + PostgreSQL |`);
  console.log(`| --- | --- | --- | --- |`);
  for (const name of [one, many]) {
    const m = (pick: (f: Figures) => number) => median(rounds.map((f) => pick(f[name])));
    console.log(`| ${name} | ${formatInt(m((f) => f.requestsPerSecond))} | ${m((f) => f.p99)} | ${m((f) => f.instancesCpuMsPerRequest)} + ${m((f) => f.databaseCpuMsPerRequest)} |`);
  }
  console.log(`${many} / ${one}, by round: ${ratios.map((x) => `${x}x`).join(', ')}; median ${median(ratios)}x`);
} finally {
  for (const cluster of clusters) for (const instance of cluster.instances) await instance.stop();
  for (const store of stores) await store.dispose();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
}
