/**
 * (a) Order placement over HTTP: POST /orders on the real app (the default embedded SQLite store, or
 * PostgreSQL; a scratch store per measurement; logger off) against a bare NestJS endpoint that does
 * no work, both driven by autocannon with the same connections, duration and bodies (each with a
 * unique orderId). Each server runs in a
 * child process of its own (http-server.ts); autocannon runs in this one.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scratchStore, storeCommands, storeLabel, type BenchStore } from './bench-store.js';
import { commandTicks, commandTicksSince, cpuWindow, processTicks, TICKS_PER_SECOND, untilQuiet, type CpuWindow, type QuietOutcome, type QuietPolicy } from './cpu.js';
import { median, round } from './stats.js';

export interface ThroughputOptions {
  readonly rounds: number;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  /** Directory for a V8 CPU profile of the Payguard server process, or null. */
  readonly cpuProfDir: string | null;
  /** Each server's measurement is repeated (fresh server) while other processes disturb it. */
  readonly quiet: QuietPolicy;
  /** The event store Payguard runs on. */
  readonly store: BenchStore;
}

export interface CannonFigures {
  /** Mean of autocannon's per-second request counts over the measured window. */
  readonly requestsPerSecond: number;
  readonly requestsTotal: number;
  readonly durationSeconds: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  readonly status2xx: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** CPU time the server process used per request answered, in ms (less sensitive to contention than req/s). */
  readonly serverCpuMsPerRequest: number;
  /** CPU time of the database server's processes per request answered, in ms (null: no database server). */
  readonly databaseCpuMsPerRequest: number | null;
  /** Machine CPU over the measured window: server + load generator ("own") and everything else. */
  readonly cpu: CpuWindow;
}

export interface ThroughputRound {
  readonly bare: CannonFigures;
  readonly payguard: CannonFigures;
  /** False when a measurement of this round was disturbed by other processes in every attempt. */
  readonly quiet: boolean;
  /** Attempts measured again because other processes were busy meanwhile. */
  readonly discarded: {
    readonly bare: readonly { requestsPerSecond: number; foreignCores: number | null }[];
    readonly payguard: readonly { requestsPerSecond: number; foreignCores: number | null }[];
  };
  /** OrderPlaced events in the Payguard log after the round (warm-up included). */
  readonly ordersInLog: number | null;
  /** Bytes the open-work follower keeps with its checkpoint after the round (its rows: one per open entry). */
  readonly openWorkCheckpointBytes: number | null;
  /** payguard / bare requests per second, in this round. */
  readonly ratio: number;
}

export interface ThroughputResult {
  readonly store: BenchStore;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly rounds: readonly ThroughputRound[];
  /** Medians over the rounds. */
  readonly bareRequestsPerSecond: number;
  readonly payguardRequestsPerSecond: number;
  /** Median Payguard req/s over median bare req/s: the figure the target applies to. */
  readonly ratio: number;
  readonly bareServerCpuMsPerRequest: number;
  readonly payguardServerCpuMsPerRequest: number;
  /** Median CPU of the database server's processes per Payguard request (null: no database server). */
  readonly payguardDatabaseCpuMsPerRequest: number | null;
  /** Bare CPU per request over Payguard CPU per request (what the ratio would be if both were CPU-bound alone). */
  readonly cpuRatio: number;
}

const SERVER = fileURLToPath(new URL('./http-server.js', import.meta.url));

export interface Server {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export function startServer(args: string[], execArgv: string[] = []): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(SERVER, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const failed = (code: number | null) => reject(new Error(`server ${args[0]} exited (${code}) before it was ready`));
    child.once('exit', failed);
    child.once('error', reject);
    child.on('message', (message: { type?: string; url?: string }) => {
      if (message.type !== 'ready' || message.url === undefined) return;
      child.off('exit', failed);
      resolve({
        url: message.url,
        pid: child.pid as number,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            child.send({ type: 'stop' });
          }),
      });
    });
  });
}

/** One autocannon run of POST /orders; every request carries a fresh orderId. */
export async function cannon(
  url: string,
  label: string,
  connections: number,
  durationSeconds: number,
  pids: number[],
  databaseCommands: readonly string[] = [],
): Promise<CannonFigures> {
  let counter = 0;
  const window = cpuWindow(pids, databaseCommands);
  const serverTicks = processTicks(pids[0]);
  const databaseTicks = commandTicks(databaseCommands);
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    requests: [
      {
        method: 'POST',
        path: '/orders',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ orderId: `${label}-${++counter}`, amount: 1999, currency: 'CNY', description: 'bench order' }),
        }),
      },
    ],
  });
  const cpu = window.stop();
  const serverMs = ((processTicks(pids[0]) - serverTicks) / TICKS_PER_SECOND) * 1000;
  const databaseMs = (commandTicksSince(databaseCommands, databaseTicks) / TICKS_PER_SECOND) * 1000;
  return {
    requestsPerSecond: round(result.requests.average, 1),
    requestsTotal: result.requests.total,
    durationSeconds: round(result.duration, 2),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    serverCpuMsPerRequest: round(serverMs / Math.max(1, result.requests.total), 3),
    databaseCpuMsPerRequest: databaseCommands.length === 0 ? null : round(databaseMs / Math.max(1, result.requests.total), 3),
    status2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpu,
  };
}

/** `databaseCommands`: the database server's processes, whose CPU counts as the measurement's own (Payguard on PostgreSQL). */
async function measure(server: Server, label: string, options: ThroughputOptions, databaseCommands: readonly string[] = []): Promise<CannonFigures> {
  if (options.warmupSeconds > 0) await cannon(server.url, `${label}-warm`, options.connections, options.warmupSeconds, [server.pid], databaseCommands);
  return cannon(server.url, label, options.connections, options.durationSeconds, [server.pid], databaseCommands);
}

async function measureBare(options: ThroughputOptions, label: string): Promise<CannonFigures> {
  const server = await startServer(['bare']);
  try {
    return await measure(server, label, options);
  } finally {
    await server.stop();
  }
}

/** A fresh app on a fresh scratch store each time (temp DATA_DIR, and schema on PostgreSQL), so every round starts from an empty log. */
async function measurePayguard(
  options: ThroughputOptions,
  label: string,
): Promise<{ figures: CannonFigures; ordersInLog: number | null; openWorkCheckpointBytes: number | null }> {
  const scratch = scratchStore(options.store, 'payguard-bench-http');
  const execArgv = options.cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`];
  try {
    const server = await startServer(['payguard', scratch.dataDir, ...(scratch.schema === null ? [] : [scratch.schema])], execArgv);
    let figures: CannonFigures;
    try {
      figures = await measure(server, label, options, storeCommands(options.store));
    } finally {
      await server.stop();
    }
    // What the round left: orders placed, and what the open-work index keeps with its checkpoint (a row per open entry).
    return { figures, ordersInLog: await scratch.count('OrderPlaced'), openWorkCheckpointBytes: await scratch.checkpointBytes('open-work') };
  } finally {
    await scratch.dispose();
  }
}

function describe(figures: CannonFigures): string {
  const { requestsPerSecond, non2xx, errors, serverCpuMsPerRequest, databaseCpuMsPerRequest, cpu } = figures;
  const database = databaseCpuMsPerRequest === null ? '' : `, database ${databaseCpuMsPerRequest} ms`;
  return `${requestsPerSecond} req/s, server ${serverCpuMsPerRequest} ms CPU/request${database} (non-2xx ${non2xx}, errors ${errors}; other processes ${cpu.foreignCores} cores)`;
}

/**
 * Rounds of one bare run and one Payguard run each, in alternating order (bare first in odd rounds,
 * Payguard first in even ones) so that a drift in machine speed does not favour either; the medians
 * over the rounds are reported.
 */
export async function measureHttpThroughput(options: ThroughputOptions, log: (line: string) => void): Promise<ThroughputResult> {
  const runId = Date.now().toString(36);
  const rounds: ThroughputRound[] = [];
  log(`(a) POST /orders, ${options.rounds} rounds of bare NestJS vs Payguard on ${storeLabel(options.store)}: ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s each at ${options.connections} connections`);
  for (let index = 1; index <= options.rounds; index++) {
    let bare: QuietOutcome<CannonFigures> | undefined;
    let payguard: QuietOutcome<Awaited<ReturnType<typeof measurePayguard>>> | undefined;
    for (const which of index % 2 === 1 ? ['bare', 'payguard'] : ['payguard', 'bare']) {
      if (which === 'bare') {
        bare = await untilQuiet(`round ${index} bare`, options.quiet, () => measureBare(options, `bare-${runId}-${index}`), (f) => f.cpu.foreignCores, log);
        log(`    round ${index} bare:     ${describe(bare.value)}`);
      } else {
        let attempt = 0;
        payguard = await untilQuiet(
          `round ${index} Payguard`,
          options.quiet,
          () => measurePayguard(options, `pg-${runId}-${index}-${++attempt}`),
          (p) => p.figures.cpu.foreignCores,
          log,
        );
        const { figures, ordersInLog, openWorkCheckpointBytes } = payguard.value;
        log(`    round ${index} Payguard: ${describe(figures)}; ${ordersInLog} orders in the log, open-work rows and checkpoint ${openWorkCheckpointBytes} bytes`);
      }
    }
    if (bare === undefined || payguard === undefined) throw new Error('a round measured nothing');
    rounds.push({
      bare: bare.value,
      payguard: payguard.value.figures,
      quiet: bare.quiet && payguard.quiet,
      discarded: {
        bare: bare.discarded.map((f) => ({ requestsPerSecond: f.requestsPerSecond, foreignCores: f.cpu.foreignCores })),
        payguard: payguard.discarded.map((p) => ({ requestsPerSecond: p.figures.requestsPerSecond, foreignCores: p.figures.cpu.foreignCores })),
      },
      ordersInLog: payguard.value.ordersInLog,
      openWorkCheckpointBytes: payguard.value.openWorkCheckpointBytes,
      ratio: round(payguard.value.figures.requestsPerSecond / bare.value.requestsPerSecond, 4),
    });
  }
  const bareRps = median(rounds.map((r) => r.bare.requestsPerSecond));
  const payguardRps = median(rounds.map((r) => r.payguard.requestsPerSecond));
  const bareCpu = median(rounds.map((r) => r.bare.serverCpuMsPerRequest));
  const payguardCpu = median(rounds.map((r) => r.payguard.serverCpuMsPerRequest));
  return {
    store: options.store,
    connections: options.connections,
    warmupSeconds: options.warmupSeconds,
    durationSeconds: options.durationSeconds,
    rounds,
    bareRequestsPerSecond: bareRps,
    payguardRequestsPerSecond: payguardRps,
    ratio: round(payguardRps / bareRps, 4),
    bareServerCpuMsPerRequest: bareCpu,
    payguardServerCpuMsPerRequest: payguardCpu,
    payguardDatabaseCpuMsPerRequest: rounds[0]?.payguard.databaseCpuMsPerRequest === null ? null : median(rounds.map((r) => r.payguard.databaseCpuMsPerRequest ?? 0)),
    cpuRatio: round(bareCpu / payguardCpu, 4),
  };
}
