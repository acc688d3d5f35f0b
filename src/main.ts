import { Logger } from '@nestjs/common';
import type { Server } from 'node:http';
import { startPayguard } from './infrastructure/bootstrap.js';
import { drainServer } from './infrastructure/http/server-lifecycle.js';

const running = await startPayguard().catch((error: Error) => {
  console.error(`Payguard could not start: ${error.message}`);
  process.exit(1);
});

/** After the grace, what the rest of the shutdown (workers stopping, the store closing) may take. */
const CLOSE_BUDGET_MS = 10_000;

/**
 * SIGTERM (or SIGINT): stop accepting connections, let the requests in flight finish for up to
 * SHUTDOWN_GRACE_MS, close whatever connection is still open (a client holding a body open does
 * not hold the shutdown), then stop the background work and close the store. A second signal
 * ends the process at once.
 */
async function shutdown(signal: string): Promise<void> {
  const logger = new Logger('Payguard');
  const graceMs = running.config.shutdownGraceMs;
  logger.log(`${signal}: shutting down; requests in flight have ${graceMs} ms to finish`);
  setTimeout(() => {
    console.error(`Payguard: shutdown not done ${CLOSE_BUDGET_MS} ms after the grace period; exiting anyway`);
    process.exit(1);
  }, graceMs + CLOSE_BUDGET_MS).unref();
  const { cut } = await drainServer(running.app.getHttpServer() as Server, graceMs);
  if (cut > 0) logger.warn(`${cut} request(s) still open after ${graceMs} ms: their connections were closed`);
  await running.close();
  process.exit(0);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    shutdown(signal).catch((error: Error) => {
      console.error(`Payguard: shutdown failed: ${error.stack ?? error.message}`);
      process.exit(1);
    });
  });
}
