/**
 * Audit and reporting benchmark: `npm run bench:audit` (builds, then runs dist/bench/audit.js).
 * Kept apart from `npm run bench` so the main benchmarks stay quick.
 *
 * A SQLite store (temporary DATA_DIR) is filled with a realistic log of ~1 million events (the
 * life stories of bench/event-log.ts), then the real audit CLI runs against it, each command in a
 * process of its own under /usr/bin/time (wall time, peak RSS, CPU):
 *   rebuild  resets the live projections (tables in the events' own file) and rebuilds them
 *   verify   replays all history through the domain and checks every money invariant
 *   replay   rebuilds the projections into a scratch file and compares them row by row with the live ones
 * Rates are events of the log per second of the command's own measured work (its summary line);
 * each command runs `--repeats` times and the median is reported.
 * Targets: >= 100,000 events/s for rebuild and verify; peak RSS < 300 MB for every command.
 *
 * Options: --events=1000000 --repeats=3 --quiet-timeout=300 (seconds to wait for other processes
 * to leave the CPUs alone before each run; 0: don't wait) --data-dir=DIR (keep the filled store
 * there, and reuse it when it is already there).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStore, NewEvent } from '../src/application/ports/event-store.port.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite.event-store.js';
import { options } from './args.js';
import { cpuWindow, waitForQuiet, type CpuWindow } from './cpu.js';
import { fillLog } from './event-log.js';
import { formatInt, median, round } from './stats.js';

const TARGETS = { eventsPerSecond: 100_000, peakRssMB: 300 } as const;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli.js');

interface Run {
  readonly eventsPerSecond: number;
  readonly commandSeconds: number;
  readonly wallSeconds: number;
  /** Peak resident set size of the process, as /usr/bin/time measured it (MB = 10^6 bytes). */
  readonly peakRssMB: number;
  readonly cpu: Pick<CpuWindow, 'seconds' | 'busyCores' | 'foreignCores' | 'stealCores'> & { readonly commandCores: number };
  readonly summary: Record<string, unknown>;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs the CLI under /usr/bin/time; resolves with its JSON summary and the measured figures. */
function runCli(dataDir: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const window = cpuWindow();
    execFile(
      '/usr/bin/time',
      ['-f', 'TIME %e %M %U %S', process.execPath, CLI, ...args, '--data-dir', dataDir, '--json'],
      { maxBuffer: 64 * 2 ** 20, env: { ...process.env, EVENT_STORE: 'sqlite' } },
      (error, stdout, stderr) => {
        const cpu = window.stop();
        const time = /^TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/m.exec(stderr);
        const last = stdout.trim().split('\n').at(-1) ?? '';
        if (time === null || !last.startsWith('{"summary"')) {
          return reject(new Error(`payguard ${args.join(' ')} failed (${error?.message ?? 'no summary'}):\n${stderr}\n${stdout.slice(-2000)}`));
        }
        const summary = (JSON.parse(last) as { summary: Record<string, unknown> }).summary;
        const [wall, rssKiB, user, sys] = time.slice(1).map(Number);
        const events = Number(summary.events ?? summary.eventsRead);
        const seconds = Number(summary.seconds ?? summary.rebuildSeconds);
        resolve({
          eventsPerSecond: Math.round(events / seconds),
          commandSeconds: seconds,
          wallSeconds: wall,
          peakRssMB: round((rssKiB * 1024) / 1e6, 1),
          // The command runs in a child process: what the machine did besides it is busy - command.
          cpu: {
            seconds: cpu.seconds,
            busyCores: cpu.busyCores,
            commandCores: round((user + sys) / wall, 2),
            foreignCores: cpu.busyCores === null ? null : round(Math.max(0, cpu.busyCores - (user + sys) / wall), 2),
            stealCores: cpu.stealCores,
          },
          summary,
        });
      },
    );
  });
}

/**
 * fillLog's stories leave causation ids random; the service records a refund request as caused by
 * its AnomalyDetected (and verify checks that it is): link them as the service does.
 */
function linkingCauses(store: EventStore): EventStore {
  const anomalyOf = new Map<string, string>();
  const link = (event: NewEvent): NewEvent => {
    const paymentId = String(event.data.paymentId);
    if (event.type === 'AnomalyDetected') anomalyOf.set(paymentId, event.eventId);
    if (event.type !== 'RefundRequested') return event;
    return { ...event, metadata: { ...event.metadata, causationId: anomalyOf.get(paymentId) ?? null } };
  };
  return {
    append: (streamName, events, expected) => store.append(streamName, events.map(link), expected),
    readStream: (streamName) => store.readStream(streamName),
    readAll: (after, limit) => store.readAll(after, limit),
    headPosition: () => store.headPosition(),
    onAppended: (listener) => store.onAppended(listener),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

const args = options();
const target = Number(args.get('events') ?? 1_000_000);
const repeats = Number(args.get('repeats') ?? 3);
const quietTimeout = Number(args.get('quiet-timeout') ?? 300);
const startedAt = new Date();
log(`Payguard audit benchmark, ${startedAt.toISOString()}: ${os.availableParallelism()} CPUs, Node ${process.version}`);

// About 600 MiB per million events, under TMPDIR; --data-dir keeps (and on later runs reuses) the store.
const kept = args.get('data-dir');
const dataDir = kept ?? mkdtempSync(join(os.tmpdir(), 'payguard-bench-audit-'));
try {
  const file = join(dataDir, 'payguard.db');
  const fillStart = process.hrtime.bigint();
  let filled: { events: number; orders: number; streams: number };
  if (kept !== undefined && existsSync(file)) {
    const store = new SqliteEventStore({ file });
    const events = await store.headPosition();
    await store.close();
    filled = { events, orders: Number.NaN, streams: Number.NaN };
    log(`reusing ${file}`);
  } else {
    log(`filling ${file} with ~${formatInt(target)} events`);
    const store = new SqliteEventStore({ file });
    filled = await fillLog(linkingCauses(store), target);
    store.database.pragma('wal_checkpoint(TRUNCATE)');
    await store.close();
  }
  const fillSeconds = round(Number(process.hrtime.bigint() - fillStart) / 1e9, 1);
  const fileMiB = round(statSync(file).size / 2 ** 20, 1);
  log(`    ${formatInt(filled.events)} events (${formatInt(filled.orders)} orders, ${formatInt(filled.streams)} streams, ${fileMiB} MiB) in ${fillSeconds} s`);

  const runs: Record<'rebuild' | 'verify' | 'replay', Run[]> = { rebuild: [], verify: [], replay: [] };
  for (let repeat = 1; repeat <= repeats; repeat++) {
    for (const command of ['rebuild', 'verify', 'replay'] as const) {
      if (quietTimeout > 0) await waitForQuiet({ maxForeignCores: 0.15, windowSeconds: 2, timeoutSeconds: quietTimeout }, log);
      const run = await runCli(dataDir, command === 'verify' ? ['verify', '--grace', '0'] : [command]);
      if (command === 'verify' && run.summary.violationCount !== 0) throw new Error(`verify found violations: ${JSON.stringify(run.summary)}`);
      if (command === 'replay' && run.summary.differences !== 0) throw new Error(`replay found differences: ${JSON.stringify(run.summary)}`);
      runs[command].push(run);
      log(
        `    run ${repeat} ${command}: ${formatInt(run.eventsPerSecond)} events/s (${run.commandSeconds} s of work, ${run.wallSeconds} s wall), ` +
          `peak RSS ${run.peakRssMB} MB, cpu ${JSON.stringify(run.cpu)}`,
      );
    }
  }

  const result = Object.fromEntries(
    Object.entries(runs).map(([command, list]) => [
      command,
      {
        eventsPerSecond: median(list.map((run) => run.eventsPerSecond)),
        peakRssMB: Math.max(...list.map((run) => run.peakRssMB)),
        wallSeconds: median(list.map((run) => run.wallSeconds)),
        runs: list,
      },
    ]),
  ) as Record<'rebuild' | 'verify' | 'replay', { eventsPerSecond: number; peakRssMB: number; wallSeconds: number; runs: Run[] }>;

  const mark = (pass: boolean) => (pass ? 'pass' : '**FAIL**');
  const rows = [
    ['Measurement', 'Result', 'Target', 'Verdict'],
    ['---', '---', '---', '---'],
    ...(['rebuild', 'verify', 'replay'] as const).flatMap((command) => {
      const { eventsPerSecond, peakRssMB, wallSeconds } = result[command];
      const rate = command === 'replay' ? ['', ''] : [`>= ${formatInt(TARGETS.eventsPerSecond)} events/s`, mark(eventsPerSecond >= TARGETS.eventsPerSecond)];
      return [
        [`${command}: events/s (median of ${repeats})`, `${formatInt(eventsPerSecond)} events/s (${wallSeconds} s wall)`, ...rate],
        [`${command}: peak RSS (max of ${repeats})`, `${peakRssMB} MB`, `< ${TARGETS.peakRssMB} MB`, mark(peakRssMB < TARGETS.peakRssMB)],
      ];
    }),
  ];
  const table = rows.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
  const output = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `node dist/bench/audit.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { nproc: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGiB: round(os.totalmem() / 2 ** 30, 1), node: process.version },
    log: { ...filled, fileMiB, fillSeconds },
    targets: TARGETS,
    results: result,
  };
  writeFileSync(join(ROOT, 'bench/audit-results.json'), `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`${table}\n`);
  log(`figures in bench/audit-results.json`);
} finally {
  if (kept === undefined) rmSync(dataDir, { recursive: true, force: true });
}
