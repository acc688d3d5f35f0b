#!/usr/bin/env node
/**
 * Builds Payguard (npm run build) only when dist/ is missing or older than its sources, so that
 * `npm start`, `npm run audit` and `npx payguard` start at once from a current build instead of
 * compiling TypeScript every time (about 5 s). Stale means: some file under src/ (or a
 * tsconfig) is newer than the built entry points. Without src/ (a production image) the build
 * is taken as it is. Build output goes to stderr: an audit's stdout stays data only.
 *
 *   node scripts/ensure-build.mjs            build when stale
 *   node scripts/ensure-build.mjs --check    exit 1 when stale, build nothing
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = ['dist/src/main.js', 'dist/src/cli.js', 'dist/src/sandbox-main.js'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

function newestIn(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Why a build is needed, or null when dist/ is current (or there are no sources to build from). */
export function staleness(root = ROOT) {
  if (!existsSync(join(root, 'src'))) return null;
  const entries = ENTRIES.map((entry) => join(root, entry));
  const missing = entries.find((entry) => !existsSync(entry));
  if (missing !== undefined) return `${missing} is missing`;
  const built = Math.min(...entries.map((entry) => statSync(entry).mtimeMs));
  const sources = Math.max(newestIn(join(root, 'src')), ...CONFIGS.map((file) => (existsSync(join(root, file)) ? statSync(join(root, file)).mtimeMs : 0)));
  return sources > built ? 'the sources changed since the last build' : null;
}

/** Builds when stale; returns the build's exit code (0 when nothing was needed). */
export function ensureBuilt(root = ROOT) {
  const why = staleness(root);
  if (why === null) return 0;
  process.stderr.write(`payguard: building (${why})...\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', '-s', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  return build.status ?? 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--check')) {
    const why = staleness();
    if (why !== null) process.stderr.write(`payguard: build needed: ${why}\n`);
    process.exit(why === null ? 0 : 1);
  }
  process.exit(ensureBuilt());
}
