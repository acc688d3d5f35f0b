#!/usr/bin/env node
/**
 * The `payguard` command (package.json bin, so `npx payguard ...`): runs the audit CLI from dist/,
 * building it first only when it is missing or older than the sources (scripts/ensure-build.mjs).
 */
import { ensureBuilt } from './ensure-build.mjs';

const built = ensureBuilt();
if (built !== 0) {
  process.stderr.write('payguard: the build failed (see above)\n');
  process.exit(2);
}
await import('../dist/src/cli.js');
