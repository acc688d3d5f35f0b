/**
 * Runs the sandbox gateway alone (`npm run sandbox`), so several Payguard instances can
 * share one provider through SANDBOX_GATEWAY_URL, as they would share a real one.
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SandboxModule, sandboxOptionsFromEnv } from './infrastructure/sandbox/sandbox.module.js';

const port = Number(process.env.SANDBOX_PORT ?? 3100);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  throw new Error(`SANDBOX_PORT must be a port number, got "${process.env.SANDBOX_PORT}"`);
}

const options = (() => {
  try {
    return sandboxOptionsFromEnv();
  } catch (error) {
    console.error(`Sandbox gateway could not start: ${(error as Error).message}`);
    process.exit(1);
  }
})();
const app = await NestFactory.create(SandboxModule.forRoot(options), {
  // Keep-alive sockets from merchants would otherwise hold up a SIGTERM.
  forceCloseConnections: true,
});
// On SIGTERM/SIGINT Nest closes the app, which stops pending notification retries.
app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
await app.listen(port);

const logger = new Logger('Sandbox');
logger.log(`Sandbox gateway listening on ${(await app.getUrl()).replace('[::1]', 'localhost')}/sandbox`);
logger.log(`Notifications signed with SANDBOX_SECRET, sent after ${options.notifyDelayMs} ms, only to ${options.notifyOrigins} (SANDBOX_NOTIFY_ORIGINS)`);
logger.log(`Payers sent back only to those origins or to ${options.returnUrlOrigins} (RETURN_URL_ORIGINS); at most ${options.maxTrades} trades kept`);
if (!process.env.SANDBOX_SECRET) logger.warn('SANDBOX_SECRET is unset: using the public development secret');
