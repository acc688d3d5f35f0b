/**
 * CPU accounting from /proc, to tell a quiet run from one disturbed by other work on the machine:
 * over a window, how many cores the whole machine was busy, how many of those were the benchmark's
 * own processes, the rest ("foreign": other processes, kernel work for them), and steal time (the
 * hypervisor giving our vCPUs to someone else). Linux only; elsewhere every figure is null.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { round } from './stats.js';

export interface CpuWindow {
  readonly seconds: number;
  readonly busyCores: number | null;
  readonly ownCores: number | null;
  readonly foreignCores: number | null;
  readonly stealCores: number | null;
}

export const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Snapshot {
  readonly at: bigint;
  readonly busy: number;
  readonly steal: number;
  readonly own: number;
}

function systemTicks(): { busy: number; steal: number } {
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return { busy: user + nice + system + irq + softirq, steal };
}

/** CPU time (user + system) a process has used so far, in clock ticks (TICKS_PER_SECOND). */
export function processTicks(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(after[11]) + Number(after[12]); // utime, stime
  } catch {
    return 0; // the process has exited
  }
}

/**
 * CPU time (user + system, in ticks) used so far by each running process whose command name is
 * one of `names` (e.g. `postgres`: the database server's processes, which serve the benchmark), by pid.
 */
export function commandTicks(names: readonly string[]): Map<number, number> {
  const ticks = new Map<number, number>();
  if (names.length === 0) return ticks;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) ticks.set(Number(entry), processTicks(Number(entry)));
    } catch {
      // exited meanwhile
    }
  }
  return ticks;
}

/**
 * CPU time (ticks) those processes used since `before` (from `commandTicks`): per process, so a
 * process that exits meanwhile (a pooled connection closed when idle) takes only the time it used
 * in the window with it (what it used after `before` and before its exit is not seen), never its
 * whole life; one started meanwhile counts whole.
 */
export function commandTicksSince(names: readonly string[], before: ReadonlyMap<number, number>): number {
  let ticks = 0;
  for (const [pid, now] of commandTicks(names)) ticks += Math.max(0, now - (before.get(pid) ?? 0));
  return ticks;
}

/**
 * Starts a window now; `stop()` reports it. `pids` are the benchmark's processes besides this one;
 * processes named in `ownCommands` count as the benchmark's own too (the database it runs on).
 */
export function cpuWindow(pids: readonly number[] = [], ownCommands: readonly string[] = []): { stop(): CpuWindow } {
  const commandsAtStart = commandTicks(ownCommands);
  const take = (): Snapshot | null => {
    try {
      const { busy, steal } = systemTicks();
      // The named commands' time since the start (per process), on top of the fixed processes' totals.
      const own = processTicks('self') + pids.reduce((sum, pid) => sum + processTicks(pid), 0) + commandTicksSince(ownCommands, commandsAtStart);
      return { at: process.hrtime.bigint(), busy, steal, own };
    } catch {
      return null;
    }
  };
  const start = take();
  const startedAt = process.hrtime.bigint();
  return {
    stop(): CpuWindow {
      const end = take();
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      if (start === null || end === null) return { seconds: round(seconds, 2), busyCores: null, ownCores: null, foreignCores: null, stealCores: null };
      const cores = (ticks: number) => round(ticks / TICKS_PER_SECOND / seconds, 2);
      const busy = end.busy - start.busy;
      const own = end.own - start.own;
      return {
        seconds: round(seconds, 2),
        busyCores: cores(busy),
        ownCores: cores(own),
        foreignCores: cores(Math.max(0, busy - own)),
        stealCores: cores(end.steal - start.steal),
      };
    },
  };
}

/** Waits until the machine has been quiet (other work below `maxForeignCores`) for two windows in a row. */
export async function waitForQuiet(
  options: { maxForeignCores: number; windowSeconds: number; timeoutSeconds: number },
  log: (line: string) => void,
): Promise<{ waitedSeconds: number; quiet: boolean }> {
  const started = Date.now();
  let calm = 0;
  let said = false;
  while ((Date.now() - started) / 1000 < options.timeoutSeconds) {
    const window = cpuWindow();
    await new Promise((resolve) => setTimeout(resolve, options.windowSeconds * 1000));
    const { foreignCores } = window.stop();
    if (foreignCores === null) return { waitedSeconds: 0, quiet: true };
    calm = foreignCores < options.maxForeignCores ? calm + 1 : 0;
    if (calm >= 2) return { waitedSeconds: round((Date.now() - started) / 1000, 1), quiet: true };
    if (!said && calm === 0) {
      log(`    waiting for the machine to be quiet (other processes use ${foreignCores} cores)`);
      said = true;
    }
  }
  log(`    the machine did not get quiet within ${options.timeoutSeconds} s: measuring anyway (see the cpu figures)`);
  return { waitedSeconds: round((Date.now() - started) / 1000, 1), quiet: false };
}

/** How a measurement copes with other work on the machine. */
export interface QuietPolicy {
  /** A measurement during which other processes used more than this many cores is repeated. */
  readonly maxForeignCores: number;
  /** At most this many attempts; the last one is kept even if disturbed (and flagged). */
  readonly attempts: number;
  /** Runs before every attempt (waits for a quiet machine). */
  readonly beforeAttempt: () => Promise<unknown>;
}

export interface QuietOutcome<T> {
  readonly value: T;
  /** False when every attempt was disturbed and the last one was kept anyway. */
  readonly quiet: boolean;
  /** The attempts thrown away because other processes were busy during them. */
  readonly discarded: readonly T[];
}

/** Runs `attempt` until one is undisturbed (by `foreignCores` of its result) or the attempts run out. */
export async function untilQuiet<T>(
  what: string,
  policy: QuietPolicy,
  attempt: () => Promise<T>,
  foreignCores: (value: T) => number | null,
  log: (line: string) => void,
): Promise<QuietOutcome<T>> {
  const discarded: T[] = [];
  for (let n = 1; ; n++) {
    await policy.beforeAttempt();
    const value = await attempt();
    const foreign = foreignCores(value);
    if (foreign === null || foreign <= policy.maxForeignCores) return { value, quiet: true, discarded };
    if (n >= policy.attempts) {
      log(`    ${what}: other processes used ${foreign} cores; no quiet attempt in ${n}, keeping this one (flagged)`);
      return { value, quiet: false, discarded };
    }
    log(`    ${what}: other processes used ${foreign} cores meanwhile; measuring again`);
    discarded.push(value);
  }
}
