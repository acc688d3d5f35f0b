/**
 * Payguard benchmarks: `npm run bench` (builds, then runs dist/bench/run.js).
 *   (a) POST /orders throughput vs a bare NestJS endpoint, the service as users run it (bench/as-run.ts)   target: >= 70 % of bare (40 % on PostgreSQL)
 *   (b) anomaly reaction latency (PaymentSucceeded -> RefundRequested)   target: p99 <= 50 ms
 *   (c) replay of the global log vs a raw SQLite read        target: >= 50 % of raw
 *   (d) reconciliation sweep cost per run, 1M trades in history / 10k   target: <= 1.5x
 * Prints a Markdown table and writes every figure to bench/results.json.
 *
 * Options (for quick looks; the defaults are the documented method):
 *   --store=sqlite|postgres  the event store (a) and (b) run the app on (default sqlite, as `npm start`;
 *   postgres: EVENT_STORE=postgres at DATABASE_URL, default the local server, a fresh schema per
 *   measurement; runs (a) and (b), writes bench/results-postgres.json). (c) compares with a raw
 *   SQLite read, so it runs on sqlite only (`npm run bench:stores` has PostgreSQL's replay rate).
 *   --only=a,b,c,d  --rounds=5 --connections=50 --warmup=3 --duration=10  --samples=1000 --latency-warmup=50
 *   (a): --prepared=DIR (place orders on a copy of a store made by dist/bench/prepare-store.js)
 *   --variant=name:KEY=VALUE,KEY=VALUE (repeatable: another Payguard process with these settings,
 *   measured in the same alternated rounds as the shipped one)
 *   --bare=express|fastify (a)'s baseline: Nest on its default platform, Express (default, the baseline
 *   issue 15 set), or on Fastify, the platform Payguard runs on
 *   --events=200000 --repeats=3  --cpu-prof-dir=DIR
 *   (d): --sweep-sizes=10000,1000000 (trades in history) --sweep-runs=20 (timed sweeps per size)
 *   --sweep-warmup=3 (untimed sweeps per block) --sweep-not-final=200 (trades the sweep works on,
 *   the same at every size) --sweep-data-dir=DIR (keep the stores there, reuse them when there;
 *   building the 1M-trade store takes minutes). (d) runs on sqlite only, like (c). (V8 CPU profile of the Payguard server in (a))
 *   --quiet-timeout=900 (seconds to wait, before each measurement, for other processes to leave the
 *   CPUs alone; 0 = neither wait nor repeat) --attempts=6 (a measurement during which other processes
 *   used more than 0.25 cores is repeated, up to this many times; (b) at most 3). Every measurement
 *   records the machine's CPU use while it ran, and the attempts thrown away.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { cpuWindow, untilQuiet, waitForQuiet, type CpuWindow, type QuietPolicy } from './cpu.js';
import { measureAnomalyLatency, type LatencyResult } from './anomaly-latency.js';
import { measureAsRun, variantsFromArgv, type AsRunResult } from './as-run.js';
import { numberListOption, numberOption, options } from './args.js';
import { benchStore, storeCommands, storeLabel, type BenchStore } from './bench-store.js';
import { measureReplay, type ReplayResult } from './replay.js';
import { formatInt, formatPct } from './stats.js';
import { measureSweep, type SweepResult } from './sweep.js';

const TARGETS = { httpRatio: 0.7, anomalyP99Ms: 50, replayRatio: 0.5, sweepRatio: 1.5 } as const;
/** Placement's target by store: the embedded store at 70 % of bare, PostgreSQL (a server of its own on the same cores) at 40 %. */
const HTTP_RATIO_TARGET: Readonly<Record<BenchStore, number>> = { sqlite: TARGETS.httpRatio, postgres: 0.4 };

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const osRelease = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
    } catch {
      return os.type();
    }
  })();
  const nproc = (() => {
    try {
      return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
    } catch {
      return os.availableParallelism();
    }
  })();
  return {
    nproc,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${osRelease} (${os.platform()} ${os.release()} ${os.arch()})`,
  };
}

/** Which code is measured: the commit, and whether src/ has uncommitted changes (read-only git). */
function revision(): { commit: string | null; srcChanged: boolean | null } {
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  try {
    const commit = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    return { commit, srcChanged: dirty !== '' };
  } catch {
    return { commit: null, srcChanged: null };
  }
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function table(
  store: BenchStore,
  results: { http?: AsRunResult; latency?: LatencyResult; replay?: ReplayResult; sweep?: SweepResult },
  quiet: { http: boolean; latency: boolean; replay: boolean; sweep: boolean },
): string {
  const rows: string[][] = [];
  const verdict = (pass: boolean) => (pass ? 'pass' : '**FAIL**');
  const { http, latency, replay, sweep } = results;
  if (http) {
    const n = http.rounds.length;
    const on = `${storeLabel(store)}${http.prepared ? ` (prepared: ${formatInt(http.prepared.events)} events, ${formatInt(http.prepared.pendingOrders)} pending orders)` : ''}`;
    rows.push([`(a) POST /orders, bare NestJS endpoint on ${http.bare.platform === 'fastify' ? 'Fastify' : 'Express'} (median of ${n})`, `${formatInt(http.bare.requestsPerSecond)} req/s`, '', '']);
    for (const [name, s] of Object.entries(http.summary)) {
      const label = name === 'shipped' ? 'Payguard' : `Payguard ${name}`;
      rows.push([`(a) POST /orders, ${label} on ${on} (median of ${n})`, `${formatInt(s.requestsPerSecond)} req/s`, '', '']);
      rows.push([
        `(a) ${label} / bare (median of round ratios: ${s.roundRatios.map(formatPct).join(', ')})`,
        formatPct(s.ratio),
        `>= ${formatPct(HTTP_RATIO_TARGET[store])}`,
        verdict(s.ratio >= HTTP_RATIO_TARGET[store]) + (quiet.http ? '' : ' (disturbed)'),
      ]);
      const database = s.databaseCpuMsPerRequest === null ? '' : ` + database ${s.databaseCpuMsPerRequest.toFixed(3)}`;
      rows.push([
        `(a) CPU per request, bare / ${label}${database ? ' (server + database)' : ''}`,
        `${http.bare.serverCpuMsPerRequest.toFixed(3)} / ${s.serverCpuMsPerRequest.toFixed(3)}${database} ms (${formatPct(s.cpuRatio)})`,
        '',
        '',
      ]);
    }
  }
  if (latency) {
    const d = latency.commitToCommitMs;
    rows.push([`(b) anomaly reaction on ${storeLabel(store)}, p50`, `${d.p50.toFixed(2)} ms`, '', '']);
    rows.push(['(b) anomaly reaction p90', `${d.p90.toFixed(2)} ms`, '', '']);
    rows.push(['(b) anomaly reaction p99', `${d.p99.toFixed(2)} ms`, `<= ${TARGETS.anomalyP99Ms} ms`, verdict(d.p99 <= TARGETS.anomalyP99Ms) + (quiet.latency ? '' : ' (disturbed)')]);
    rows.push(['(b) anomaly reaction max', `${d.max.toFixed(2)} ms`, '', '']);
  }
  if (replay) {
    rows.push(['(c) raw SQLite read + JSON.parse', `${formatInt(replay.rawEventsPerSecond)} events/s`, '', '']);
    rows.push(['(c) replay: readAll + evolve per stream', `${formatInt(replay.replayEventsPerSecond)} events/s`, '', '']);
    rows.push(['(c) replay / raw', formatPct(replay.ratio), `>= ${formatPct(TARGETS.replayRatio)}`, verdict(replay.ratio >= TARGETS.replayRatio) + (quiet.replay ? '' : ' (disturbed)')]);
  }
  if (sweep) {
    for (const size of sweep.sizes) {
      const b = size.build;
      rows.push([
        `(d) sweep, ${formatInt(b.trades)} trades in history (${formatInt(size.watchedTrades)} watched), median / p90 of ${size.runsMs.length}`,
        `${size.medianMs.toFixed(2)} / ${size.p90Ms.toFixed(2)} ms (CPU ${size.medianCpuMs.toFixed(2)} ms)`,
        '',
        '',
      ]);
      rows.push([
        `(d) store build, ${formatInt(b.trades)} trades (not in the ratio)`,
        `${formatInt(b.events)} events, ${b.fileMiB} MiB: fill ${b.fillSeconds} s, first start + catch-up ${b.catchUpSeconds} s${b.reused ? ' (kept store, earlier run)' : ''}`,
        '',
        '',
      ]);
    }
    const small = sweep.sizes[0];
    const large = sweep.sizes[sweep.sizes.length - 1];
    rows.push([
      `(d) sweep ms per run, ${formatInt(large.build.trades)} / ${formatInt(small.build.trades)} trades`,
      `${sweep.ratio.toFixed(2)}x (CPU ${sweep.cpuRatio.toFixed(2)}x)`,
      `<= ${TARGETS.sweepRatio}x`,
      verdict(sweep.ratio <= TARGETS.sweepRatio) + (quiet.sweep ? '' : ' (disturbed)'),
    ]);
  }
  const header = ['Measurement', 'Result', 'Target', 'Verdict'];
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

const args = options();
const store = benchStore(args.get('store'));
const only = new Set((args.get('only') ?? (store === 'sqlite' ? 'a,b,c,d' : 'a,b')).split(','));
if (store !== 'sqlite' && only.has('c')) throw new Error('(c) compares with a raw SQLite read: it runs with --store=sqlite only');
if (store !== 'sqlite' && only.has('d')) throw new Error('(d) builds SQLite stores of 10k and 1M trades: it runs with --store=sqlite only');
const startedAt = new Date();
const info = machine();
// Taken now, right after `npm run build` compiled the tree: the code being measured.
const measured = revision();
log(`Payguard benchmarks, ${startedAt.toISOString()}: ${info.nproc} CPUs (${info.cpuModel}), ${info.memoryGiB} GiB, Node ${info.node}, ${info.os}`);

const quietTimeout = numberOption(args, 'quiet-timeout', 900);
const quietWaits: { before: string; waitedSeconds: number; quiet: boolean }[] = [];
/** Wait for a quiet machine before each attempt; repeat an attempt during which others used > 0.25 cores. */
function quietPolicy(before: string): QuietPolicy {
  if (quietTimeout === 0) return { maxForeignCores: Number.POSITIVE_INFINITY, attempts: 1, beforeAttempt: async () => undefined };
  return {
    maxForeignCores: 0.25,
    attempts: numberOption(args, 'attempts', 6),
    beforeAttempt: async () => {
      const outcome = await waitForQuiet({ maxForeignCores: 0.15, windowSeconds: 2, timeoutSeconds: quietTimeout }, log);
      quietWaits.push({ before, ...outcome });
    },
  };
}

function bareOption(value: string | undefined): 'express' | 'fastify' {
  if (value === undefined || value === 'express' || value === 'fastify') return value ?? 'express';
  throw new Error(`--bare is express or fastify, not ${JSON.stringify(value)}`);
}

const results: { http?: AsRunResult; latency?: LatencyResult; replay?: ReplayResult; sweep?: SweepResult } = {};
/** Machine CPU during (b), (c) and (d) as a whole (this process is the only own one there). */
const cpu: { latency?: CpuWindow; replay?: CpuWindow; sweep?: CpuWindow } = {};
if (only.has('a')) {
  // Users' machines are not quiet either: (a) waits for a quiet machine once, then records the
  // other load during every measurement instead of repeating it.
  await quietPolicy('a').beforeAttempt();
  results.http = await measureAsRun(
    {
      rounds: numberOption(args, 'rounds', 5),
      connections: numberOption(args, 'connections', 50),
      warmupSeconds: numberOption(args, 'warmup', 3),
      durationSeconds: numberOption(args, 'duration', 10),
      store,
      prepared: args.get('prepared') ?? null,
      variants: variantsFromArgv(process.argv.slice(2)),
      cpuProfDir: args.get('cpu-prof-dir') ?? null,
      bare: bareOption(args.get('bare')),
    },
    log,
  );
}
/** (b) as a whole is repeated while other processes disturb it (its samples are a few ms each, all sensitive). */
let latencyDiscarded: { p99: number; foreignCores: number | null }[] = [];
let latencyQuiet = true;
if (only.has('b')) {
  const outcome = await untilQuiet(
    '(b)',
    { ...quietPolicy('b'), attempts: Math.min(3, numberOption(args, 'attempts', 6)) },
    async () => {
      // On PostgreSQL the database server's processes are part of the measurement, not other work.
      const window = cpuWindow([], storeCommands(store));
      const result = await measureAnomalyLatency(
        { samples: numberOption(args, 'samples', 1000), warmupSamples: numberOption(args, 'latency-warmup', 50), store },
        log,
      );
      return { result, cpu: window.stop() };
    },
    ({ cpu }) => cpu.foreignCores,
    log,
  );
  results.latency = outcome.value.result;
  cpu.latency = outcome.value.cpu;
  latencyDiscarded = outcome.discarded.map(({ result, cpu }) => ({ p99: result.commitToCommitMs.p99, foreignCores: cpu.foreignCores }));
  latencyQuiet = outcome.quiet;
  log(`    cpu ${JSON.stringify(cpu.latency)}`);
}
if (only.has('c')) {
  const window = cpuWindow();
  results.replay = await measureReplay(
    { events: numberOption(args, 'events', 200_000), repeats: numberOption(args, 'repeats', 3), batchSize: 1000, quiet: quietPolicy('c') },
    log,
  );
  cpu.replay = window.stop();
  log(`    cpu ${JSON.stringify(cpu.replay)}`);
}
if (only.has('d')) {
  const window = cpuWindow();
  results.sweep = await measureSweep(
    {
      sizes: numberListOption(args, 'sweep-sizes', [10_000, 1_000_000]),
      runs: numberOption(args, 'sweep-runs', 20),
      warmup: numberOption(args, 'sweep-warmup', 3),
      notFinal: numberOption(args, 'sweep-not-final', 200),
      dataDir: args.get('sweep-data-dir') ?? null,
      quiet: quietPolicy('d'),
    },
    log,
  );
  cpu.sweep = window.stop();
  log(`    cpu ${JSON.stringify(cpu.sweep)}`);
}

const output = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  command: `node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
  machine: info,
  revision: measured,
  store,
  targets: { ...TARGETS, httpRatio: HTTP_RATIO_TARGET[store] },
  verdicts: {
    ...(results.http && { httpRatio: (results.http.summary.shipped?.ratio ?? 0) >= HTTP_RATIO_TARGET[store] }),
    ...(results.latency && { anomalyP99: results.latency.commitToCommitMs.p99 <= TARGETS.anomalyP99Ms }),
    ...(results.replay && { replayRatio: results.replay.ratio >= TARGETS.replayRatio }),
    ...(results.sweep && { sweepRatio: results.sweep.ratio <= TARGETS.sweepRatio }),
  },
  results,
  cpu,
  latencyAttempts: { quiet: latencyQuiet, discarded: latencyDiscarded },
  quietWaits,
};
const file = fileURLToPath(new URL(store === 'sqlite' ? '../../bench/results.json' : `../../bench/results-${store}.json`, import.meta.url));
writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
console.log(
  table(store, results, {
    http: results.http?.rounds.every((r) => Object.values(r.figures).every((m) => (m.cpu.foreignCores ?? 0) <= 0.25)) ?? true,
    latency: latencyQuiet,
    replay: results.replay?.quiet ?? true,
    sweep: results.sweep?.quiet ?? true,
  }),
);
log(`figures written to ${file}`);
// Nothing should be left running; exit explicitly in case a library left a handle open.
process.exit(0);
