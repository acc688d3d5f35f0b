/**
 * (a) Order placement as users run the service: `node dist/src/main.js` in a process of its own
 * (what `npm start` runs after its build, with its node flags, `START_FLAGS`), with the shipped defaults (logs on, metrics on), only
 * PORT and DATA_DIR set (plus EVENT_STORE, DATABASE_URL, DATABASE_SCHEMA on PostgreSQL), its logs
 * written to a file as a service manager would. It is started ONCE and keeps its store for the
 * whole run, so the store grows round after round (or starts from a copy of a prepared store,
 * bench/prepare-store.ts). The bare NestJS endpoint (http-server.js bare) runs in its own process
 * too. Both get the same constant body, with no orderId (Payguard generates it), from autocannon
 * in this process at the same connections, so the load generator's own cost is the same for both.
 *
 * Rounds alternate the order of the servers. Each measurement reports requests/s, latency, the
 * server process's CPU per request (/proc/<pid>/stat), on PostgreSQL the database server's CPU per
 * request (every `postgres` process's CPU delta: on a shared server that includes other sessions'
 * work, see `cpu.foreignCores` and the load average), and the machine's other load.
 *
 * Variants (`--variant=name:KEY=VALUE,KEY=VALUE`, repeatable) start more Payguard processes with
 * those settings added to the environment, each on a store of its own, measured in the same
 * rounds, so an A/B comparison shares the machine's conditions. `BENCH_MAIN=<path to main.js>` in a
 * variant starts that build instead (another checkout's `dist/src/main.js`, for an A/B of a code
 * change); it is not passed on to the service.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DATABASE_URL, scratchStore, storeCommands, storeLabel, type BenchStore, type ScratchStore } from './bench-store.js';
import { commandTicks, commandTicksSince, cpuWindow, processTicks, TICKS_PER_SECOND, type CpuWindow } from './cpu.js';
import { startServer, type Server } from './http-throughput.js';
import type { PreparedManifest } from './prepare-store.js';
import { median, round } from './stats.js';

export interface Variant {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface AsRunOptions {
  readonly rounds: number;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly store: BenchStore;
  /** A prepared store's directory (prepared.json in it), copied before use; null: an empty store. */
  readonly prepared: string | null;
  /** Payguard as shipped is always measured, as `shipped`; these are measured beside it. */
  readonly variants: readonly Variant[];
  /** Directory for V8 CPU profiles of the Payguard processes (`node --cpu-prof`), or null. */
  readonly cpuProfDir: string | null;
  /** The baseline's platform: Nest's default, Express (the issue's baseline), or Fastify (Payguard's own). */
  readonly bare: 'express' | 'fastify';
}

export interface Measurement {
  readonly requestsPerSecond: number;
  readonly requestsTotal: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly serverCpuMsPerRequest: number;
  readonly databaseCpuMsPerRequest: number | null;
  readonly cpu: CpuWindow;
  /** /proc/loadavg's 1-minute figure before and after. */
  readonly loadAverage: readonly [number, number];
}

export interface AsRunResult {
  readonly store: BenchStore;
  readonly prepared: PreparedManifest | null;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly body: string;
  /** Per round, in the order measured: server name -> figures. */
  readonly rounds: readonly { readonly order: readonly string[]; readonly figures: Readonly<Record<string, Measurement>> }[];
  /** Per Payguard server (shipped and variants): medians over the rounds, and the ratios to bare. */
  readonly summary: Readonly<
    Record<
      string,
      {
        readonly requestsPerSecond: number;
        /** Median of the per-round ratios to bare, requests/s. */
        readonly ratio: number;
        readonly roundRatios: readonly number[];
        readonly serverCpuMsPerRequest: number;
        readonly databaseCpuMsPerRequest: number | null;
        /** Bare's CPU per request over this server's (plus the database's, on PostgreSQL). */
        readonly cpuRatio: number;
      }
    >
  >;
  readonly bare: { readonly platform: 'express' | 'fastify'; readonly requestsPerSecond: number; readonly serverCpuMsPerRequest: number };
}

/** What every request carries, the same for both servers: no orderId, so Payguard makes one. */
export const BODY = JSON.stringify({ amount: 1999, currency: 'CNY', description: 'bench order' });
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

/**
 * Node's flags in `npm start` (package.json's `start`: `node <flags> dist/src/main.js`), so the
 * service is started with the same V8 settings as users start it; variants get them too.
 */
const START_FLAGS = startFlags();

function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.trim().split(/\s+/);
  if (words[0] !== 'node') throw new Error(`package.json's start script does not run node: ${pkg.scripts.start}`);
  return words.slice(1).filter((word) => word.startsWith('--'));
}

function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Store {
  readonly env: Record<string, string>;
  readonly dataDir: string;
  dispose(): Promise<void>;
}

/** A fresh empty store, or a copy of the prepared one (SQLite: its directory; PostgreSQL: its schema's tables). */
async function storeFor(options: AsRunOptions, manifest: PreparedManifest | null): Promise<Store> {
  const scratch: ScratchStore = scratchStore(options.store, 'payguard-bench-as-run');
  if (manifest === null) return scratch;
  if (options.store === 'sqlite') {
    cpSync(manifest.dir, scratch.dataDir, { recursive: true, filter: (source) => !source.endsWith('.lock') });
    return scratch;
  }
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const from = `"${manifest.schema}"`;
    const to = `"${scratch.schema}"`;
    await client.query(`CREATE SCHEMA ${to}`);
    const { rows } = await client.query<{ name: string }>('SELECT tablename AS name FROM pg_tables WHERE schemaname = $1', [manifest.schema]);
    for (const { name } of rows) {
      await client.query(`CREATE TABLE ${to}."${name}" (LIKE ${from}."${name}" INCLUDING ALL)`);
      await client.query(`INSERT INTO ${to}."${name}" SELECT * FROM ${from}."${name}"`);
    }
    await client.query(`ANALYZE`);
  } finally {
    await client.end();
  }
  return scratch;
}

export interface Payguard extends Server {
  readonly name: string;
  readonly logFile: string;
}

/** `node dist/src/main.js` with the shipped defaults plus `env`; resolves once /health/ready answers 200. */
export async function startService(name: string, store: Store, env: Readonly<Record<string, string>>, cpuProfDir: string | null, logDir: string): Promise<Payguard> {
  const port = await freePort();
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const execArgv = cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${name}-${port}.cpuprofile`];
  const { BENCH_MAIN: main = MAIN, ...serviceEnv } = env;
  const child: ChildProcess = spawn(process.execPath, [...START_FLAGS, ...execArgv, main], {
    env: { ...process.env, ...store.env, ...serviceEnv, PORT: String(port) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before it was ready; see ${logFile}`);
    const ready = await fetch(`${url}/health/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`${name} not ready within 600 s; see ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    name,
    url,
    logFile,
    pid: child.pid as number,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}

async function load(url: string, options: AsRunOptions, seconds: number, pid: number, databaseCommands: readonly string[]): Promise<Measurement> {
  const before = loadAverage();
  const window = cpuWindow([pid], databaseCommands);
  const server = processTicks(pid);
  const database = commandTicks(databaseCommands);
  const result = await autocannon({
    url: `${url}/orders`,
    method: 'POST',
    connections: options.connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: BODY,
  });
  const cpu = window.stop();
  const perRequest = (ticks: number) => round(((ticks / TICKS_PER_SECOND) * 1000) / Math.max(1, result.requests.total), 3);
  return {
    requestsPerSecond: round(result.requests.average, 1),
    requestsTotal: result.requests.total,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    serverCpuMsPerRequest: perRequest(processTicks(pid) - server),
    databaseCpuMsPerRequest: databaseCommands.length === 0 ? null : perRequest(commandTicksSince(databaseCommands, database)),
    cpu,
    loadAverage: [before, loadAverage()],
  };
}

export async function measureAsRun(options: AsRunOptions, log: (line: string) => void): Promise<AsRunResult> {
  const manifest = options.prepared === null ? null : (JSON.parse(readFileSync(join(options.prepared, 'prepared.json'), 'utf8')) as PreparedManifest);
  if (manifest !== null && manifest.store !== options.store) throw new Error(`${options.prepared} holds a ${manifest.store} store, not ${options.store}`);
  const variants: Variant[] = [{ name: 'shipped', env: {} }, ...options.variants];
  const stores: Store[] = [];
  const servers: Server[] = [];
  // Kept after the run (the stores are not): what the services logged.
  const logDir = mkdtempSync(join(tmpdir(), 'payguard-bench-logs-'));
  try {
    log(`(a) POST /orders as users run it: ${options.rounds} rounds of bare (${options.bare === 'fastify' ? 'Fastify' : 'Express'}) vs Payguard (${variants.map((v) => v.name).join(', ')}) on ${storeLabel(options.store)}${manifest ? ` prepared with ${manifest.events} events, ${manifest.pendingOrders} pending orders` : ', from an empty store'}; ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s at ${options.connections} connections`);
    const bare = await startServer([options.bare === 'fastify' ? 'bare-fastify' : 'bare']);
    servers.push(bare);
    const payguards: Payguard[] = [];
    for (const variant of variants) {
      const store = await storeFor(options, manifest);
      stores.push(store);
      const started = await startService(variant.name, store, variant.env, options.cpuProfDir, logDir);
      servers.push(started);
      payguards.push(started);
      log(`    ${variant.name}: pid ${started.pid} at ${started.url}, logs to ${started.logFile}`);
    }
    const names = ['bare', ...payguards.map((p) => p.name)];
    const rounds: { order: string[]; figures: Record<string, Measurement> }[] = [];
    for (let index = 1; index <= options.rounds; index++) {
      // Bare first in odd rounds, last in even ones; the Payguard servers rotate among themselves.
      const rotated = payguards.map((_, i) => payguards[(i + index - 1) % payguards.length].name);
      const order = index % 2 === 1 ? ['bare', ...rotated] : [...rotated, 'bare'];
      const figures: Record<string, Measurement> = {};
      for (const name of order) {
        const server = name === 'bare' ? bare : (payguards.find((p) => p.name === name) as Payguard);
        const database = name === 'bare' ? [] : storeCommands(options.store);
        if (options.warmupSeconds > 0) await load(server.url, options, options.warmupSeconds, server.pid, database);
        const m = await load(server.url, options, options.durationSeconds, server.pid, database);
        figures[name] = m;
        const db = m.databaseCpuMsPerRequest === null ? '' : `, database ${m.databaseCpuMsPerRequest} ms`;
        log(`    round ${index} ${name.padEnd(10)} ${m.requestsPerSecond} req/s, p50/p99 ${m.latencyMs.p50}/${m.latencyMs.p99} ms, server ${m.serverCpuMsPerRequest} ms CPU/request${db}; non-2xx ${m.non2xx}, errors ${m.errors}; other processes ${m.cpu.foreignCores} cores, load ${m.loadAverage.join(' -> ')}`);
      }
      rounds.push({ order, figures });
    }
    const bareRps = median(rounds.map((r) => r.figures.bare.requestsPerSecond));
    const bareCpu = median(rounds.map((r) => r.figures.bare.serverCpuMsPerRequest));
    const summary: Record<string, AsRunResult['summary'][string]> = {};
    for (const name of names.slice(1)) {
      const roundRatios = rounds.map((r) => round(r.figures[name].requestsPerSecond / r.figures.bare.requestsPerSecond, 4));
      const serverCpu = median(rounds.map((r) => r.figures[name].serverCpuMsPerRequest));
      const databaseCpu = options.store === 'postgres' ? median(rounds.map((r) => r.figures[name].databaseCpuMsPerRequest ?? 0)) : null;
      summary[name] = {
        requestsPerSecond: median(rounds.map((r) => r.figures[name].requestsPerSecond)),
        ratio: median(roundRatios),
        roundRatios,
        serverCpuMsPerRequest: serverCpu,
        databaseCpuMsPerRequest: databaseCpu,
        cpuRatio: round(bareCpu / (serverCpu + (databaseCpu ?? 0)), 4),
      };
    }
    return {
      store: options.store,
      prepared: manifest,
      connections: options.connections,
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      body: BODY,
      rounds,
      summary,
      bare: { platform: options.bare, requestsPerSecond: bareRps, serverCpuMsPerRequest: bareCpu },
    };
  } finally {
    for (const server of servers) await server.stop();
    for (const store of stores) await store.dispose();
  }
}

/** `--variant=name:KEY=VALUE,KEY=VALUE`, any number of times (straight from argv: the options map keeps one value per name). */
export function variantsFromArgv(argv: readonly string[]): Variant[] {
  return argv
    .filter((arg) => arg.startsWith('--variant='))
    .map((arg) => {
      const spec = arg.slice('--variant='.length);
      const colon = spec.indexOf(':');
      const name = colon < 0 ? spec : spec.slice(0, colon);
      if (!/^[a-z0-9_-]+$/i.test(name) || name === 'bare' || name === 'shipped') throw new Error(`--variant needs a name of [A-Za-z0-9_-] other than bare and shipped, not ${JSON.stringify(name)}`);
      const env: Record<string, string> = {};
      for (const pair of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new Error(`--variant ${name}: ${JSON.stringify(pair)} is not KEY=VALUE`);
        env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return { name, env };
    });
}
