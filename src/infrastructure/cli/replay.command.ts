import { compareProjections, type RowDifference } from '../../application/audit/projection-diff.js';
import type { EventStore } from '../../application/ports/event-store.port.js';
import type { ProjectionName, ProjectionStore } from '../../application/ports/projection-store.port.js';
import { projectionSettings, PROJECTION_VERSIONS } from '../../application/reporting/report-changes.js';
import { ProjectionRunner } from '../../application/reporting/projection-runner.js';
import type { ReportDays } from '../../application/reporting/report-days.js';
import { peakRssMiB, secondsSince, type CliIo } from './cli-io.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import type { ScratchProjections } from './cli-stores.js';

export interface ProjectionsOptions {
  readonly projections: readonly ProjectionName[];
  readonly json: boolean;
  /** The report time zone's days (REPORT_TIMEZONE), which the settlement is by. */
  readonly days: ReportDays;
}

export interface ReplayOutcome {
  readonly projections: readonly ProjectionName[];
  /** Where each live projection stood, and so how far the rebuild went. */
  readonly positions: Partial<Record<ProjectionName, number>>;
  readonly eventsRead: number;
  readonly rowsCompared: number;
  readonly differences: number;
  readonly rebuildSeconds: number;
  readonly eventsPerSecond: number;
  readonly peakRssMiB: number;
}

/**
 * Read a thousand events at a time (a batch that small is garbage before the collector would
 * promote it), commit every ten thousand (fewer transactions and fsyncs, more changes to one
 * row merged). Measured on a million events: see BENCHMARKS.md.
 */
const READING = { batchSize: 1000, commitEvery: 10_000 };

/** Differences printed (all are counted). */
const SHOWN = 1000;

/** How often the comparison is repeated when the live projections move while it runs. */
const ATTEMPTS = 3;

/**
 * Rebuilds the projections from zero into `scratch`, each up to the position its live twin has
 * reached, and compares the two row by row. A live projection that moves meanwhile (the service
 * is running) is caught up with and compared again.
 */
export async function replay(
  store: EventStore,
  live: ProjectionStore,
  scratch: ScratchProjections,
  options: ProjectionsOptions & { readonly keep: boolean },
  io: CliIo,
): Promise<ReplayOutcome> {
  const runner = new ProjectionRunner(scratch.store, options.days, options.projections);
  await runner.load();
  let eventsRead = 0;
  let rebuildSeconds = 0;
  let differences: RowDifference[] = [];
  let differenceCount = 0;
  let rowsCompared = 0;
  let positions: Partial<Record<ProjectionName, number>> = {};
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const checkpoints = await live.checkpoints();
    positions = Object.fromEntries(options.projections.map((name) => [name, checkpoints[name].position]));
    for (const name of options.projections) {
      if (checkpoints[name].version !== PROJECTION_VERSIONS[name] && checkpoints[name].version !== 0) {
        io.err(`note: live projection ${name} was built by version ${checkpoints[name].version} of its logic (this build: ${PROJECTION_VERSIONS[name]}); the service rebuilds it when it starts\n`);
      } else if (checkpoints[name].version !== 0 && checkpoints[name].settings !== projectionSettings(name, options.days)) {
        io.err(`note: live projection ${name} was built with ${checkpoints[name].settings || 'other settings'} (this run: ${projectionSettings(name, options.days)}); set REPORT_TIMEZONE as the service has it\n`);
      }
    }
    const start = process.hrtime.bigint();
    const progress = io.progress?.('replay', { from: 0, to: Math.max(0, ...Object.values(positions)) }) ?? NO_PROGRESS;
    eventsRead += await runner.catchUp(store, { targets: positions, ...READING, onProgress: (read, position) => progress.update(read, position) });
    progress.end();
    rebuildSeconds += secondsSince(start);
    differences = [];
    differenceCount = 0;
    rowsCompared = await compareProjections(live, scratch.store, options.projections, (difference) => {
      differenceCount++;
      if (differences.length < SHOWN) differences.push(difference);
    });
    const after = await live.checkpoints();
    if (options.projections.every((name) => after[name].position === positions[name])) break;
    if (attempt === ATTEMPTS) io.err('note: the live projections kept moving during the comparison; differences may include rows changed meanwhile\n');
  }
  for (const difference of differences) {
    await io.out(options.json ? `${JSON.stringify({ difference })}\n` : describe(difference));
  }
  if (differenceCount > differences.length) io.err(`${differenceCount - differences.length} more difference(s) not shown\n`);
  const head = await store.headPosition();
  for (const name of options.projections) {
    const behind = head - (positions[name] ?? 0);
    if (behind > 0) io.err(`note: live projection ${name} stands ${behind} event(s) behind the head of the log (${head}); compared at its own position\n`);
  }
  const outcome: ReplayOutcome = {
    projections: options.projections,
    positions,
    eventsRead,
    rowsCompared,
    differences: differenceCount,
    rebuildSeconds: Math.round(rebuildSeconds * 1000) / 1000,
    eventsPerSecond: rebuildSeconds > 0 ? Math.round(eventsRead / rebuildSeconds) : eventsRead,
    peakRssMiB: peakRssMiB(),
  };
  // The scratch copy is deleted once compared unless kept: its place is named only when it stays.
  if (options.json) {
    await io.out(`${JSON.stringify({ summary: { ...outcome, scratch: scratch.where, scratchKept: options.keep } })}\n`);
  } else {
    const where = options.projections.map((name) => `${name} at ${positions[name]}`).join(', ');
    const into = options.keep ? `into ${scratch.where} (kept)` : 'into a scratch copy (deleted after the comparison; --keep keeps it)';
    await io.out(`${differenceCount === 0 ? 'OK' : 'FAILED'}: rebuilt ${where} from the log ${into}; ${rowsCompared} rows compared, ${differenceCount} difference(s)\n`);
    io.err(`rebuilt ${eventsRead} events in ${outcome.rebuildSeconds} s (${outcome.eventsPerSecond} events/s), peak RSS ${outcome.peakRssMiB} MiB\n`);
  }
  return outcome;
}

/** Resets the live projections and rebuilds them from the log (run it with the service stopped). */
export async function rebuild(
  store: EventStore,
  live: ProjectionStore,
  options: ProjectionsOptions,
  io: CliIo,
): Promise<{ eventsRead: number; seconds: number; eventsPerSecond: number; peakRssMiB: number; head: number }> {
  // Timed from the reset: emptying the old rows is part of rebuilding.
  const start = process.hrtime.bigint();
  for (const name of options.projections) await live.reset(name, PROJECTION_VERSIONS[name], projectionSettings(name, options.days));
  const runner = new ProjectionRunner(live, options.days, options.projections);
  await runner.load();
  const progress: Progress = io.progress?.('rebuild', { from: 0, to: await store.headPosition() }) ?? NO_PROGRESS;
  const eventsRead = await runner.catchUp(store, { ...READING, onProgress: (read, position) => progress.update(read, position) });
  progress.end();
  const seconds = secondsSince(start);
  const outcome = {
    eventsRead,
    seconds: Math.round(seconds * 1000) / 1000,
    eventsPerSecond: seconds > 0 ? Math.round(eventsRead / seconds) : eventsRead,
    peakRssMiB: peakRssMiB(),
    head: Math.max(0, ...options.projections.map((name) => runner.position(name))),
  };
  if (options.json) await io.out(`${JSON.stringify({ summary: { projections: options.projections, ...outcome } })}\n`);
  else {
    await io.out(`OK: rebuilt ${options.projections.join(', ')} up to position ${outcome.head}\n`);
    io.err(`rebuilt ${eventsRead} events in ${outcome.seconds} s (${outcome.eventsPerSecond} events/s), peak RSS ${outcome.peakRssMiB} MiB\n`);
  }
  return outcome;
}

function describe({ projection, table, key, live, rebuilt }: RowDifference): string {
  const what = live === null ? 'missing in the live projection' : rebuilt === null ? 'in the live projection only' : 'differs';
  return `DIFFERENCE ${projection}/${table} ${key}: ${what}\n  live:    ${JSON.stringify(live)}\n  rebuilt: ${JSON.stringify(rebuilt)}\n`;
}
