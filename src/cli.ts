#!/usr/bin/env node
/** `payguard`: the audit CLI (export, verify, replay, rebuild, show). See `payguard help` and docs/reports.md. */
import { runAuditCli } from './infrastructure/cli/audit-cli.js';
import { processIo } from './infrastructure/cli/cli-io.js';

// A reader that goes away (`payguard export | head`) ends the export quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await runAuditCli(process.argv.slice(2), process.env, processIo());
