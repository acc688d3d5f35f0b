/**
 * Not part of `npm run bench`: splits the gap between Payguard's POST /orders and the bare endpoint
 * by measuring variants of both (see http-server.ts), alternating them for a few rounds.
 *   node dist/bench/diagnose-http.js [--rounds=2] [--warmup=2] [--duration=6] [--cpu-prof-dir=DIR] [kind ...]
 * Prints req/s and, less sensitive to other load on the machine, server CPU ms per request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForQuiet } from './cpu.js';
import { cannon, startServer } from './http-throughput.js';
import { median } from './stats.js';

const flags = new Map<string, string>();
const kinds: string[] = [];
for (const arg of process.argv.slice(2)) {
  const match = /^--([a-z-]+)=(.*)$/.exec(arg);
  if (match) flags.set(match[1], match[2]);
  else kinds.push(arg);
}
const rounds = Number(flags.get('rounds') ?? 2);
const warmup = Number(flags.get('warmup') ?? 2);
const duration = Number(flags.get('duration') ?? 6);
const profileDir = flags.get('cpu-prof-dir');
const quietTimeout = Number(flags.get('quiet-timeout') ?? 0);
const variants = kinds.length > 0 ? kinds : ['bare', 'bare-validated', 'payguard-memory', 'payguard-no-background', 'payguard-sync-normal', 'payguard'];
const log = (line: string) => process.stderr.write(`${line}\n`);

const figures = new Map<string, { rps: number[]; cpuMs: number[]; foreign: number[] }>();
for (let round = 1; round <= rounds; round++) {
  for (const kind of variants) {
    if (quietTimeout > 0) await waitForQuiet({ maxForeignCores: 0.15, windowSeconds: 2, timeoutSeconds: quietTimeout }, log);
    const dataDir = mkdtempSync(join(tmpdir(), 'payguard-diag-'));
    const server = await startServer([kind, dataDir], profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
    try {
      const label = `${kind}-${round}-${Date.now().toString(36)}`;
      if (warmup > 0) await cannon(server.url, `${label}-w`, 50, warmup, [server.pid]);
      const result = await cannon(server.url, label, 50, duration, [server.pid]);
      if (result.non2xx > 0 || result.errors > 0) log(`  ${kind}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      const entry = figures.get(kind) ?? { rps: [], cpuMs: [], foreign: [] };
      entry.rps.push(result.requestsPerSecond);
      entry.cpuMs.push(result.serverCpuMsPerRequest);
      entry.foreign.push(result.cpu.foreignCores ?? Number.NaN);
      figures.set(kind, entry);
      const total = result.requestsTotal;
      log(`round ${round} ${kind.padEnd(22)} pid ${server.pid} ${total} requests measured`);
      log(`round ${round} ${kind.padEnd(22)} ${String(result.requestsPerSecond).padStart(8)} req/s  server ${result.serverCpuMsPerRequest.toFixed(3)} ms CPU/request  (other processes: ${result.cpu.foreignCores} cores)`);
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}
console.log('| Variant | req/s (median) | server CPU ms/request (median) | other processes, cores (max) |');
console.log('| --- | --- | --- | --- |');
for (const [kind, entry] of figures) {
  console.log(`| ${kind} | ${Math.round(median(entry.rps))} | ${median(entry.cpuMs).toFixed(3)} | ${Math.max(...entry.foreign)} |`);
}
process.exit(0);
