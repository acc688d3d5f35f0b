/**
 * Child process for the HTTP throughput measurement: serves either the real Payguard app or a bare
 * NestJS endpoint, so the load generator (autocannon, in the parent) never shares an event loop
 * with the server under test. Usage: node http-server.js <kind> [dataDir]
 *   payguard <dataDir> [schema]  the real app (the measurement): on the default SQLite store, or with a
 *                                schema, on PostgreSQL (EVENT_STORE=postgres, DATABASE_URL, that schema)
 *   bare                 one POST controller returning a constant, on Nest's default platform, Express
 *                        (the measurement's baseline, as issue 15 set it)
 *   bare-fastify         the same on Fastify, the platform Payguard runs on (--bare=fastify)
 * Variants used only by diagnose-http.js, to split the gap between the two:
 *   bare-validated                  bare + Payguard's global ValidationPipe on CreateOrderDto
 *   payguard-memory                 the real app on the in-memory store
 *   payguard-sync-normal <dataDir>  the real app on SQLite with synchronous = NORMAL
 *   payguard-no-background <dataDir> the real app with its background work (log followers, timers) stopped after start-up
 * Tells the parent `{ url }` over IPC once listening; closes the app and exits on `stop`.
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DATABASE_URL } from './bench-store.js';
import { startPayguard } from '../src/infrastructure/bootstrap.js';
import { SqliteEventStore } from '../src/infrastructure/event-store/sqlite.event-store.js';
import { CreateOrderDto } from '../src/infrastructure/http/dtos.js';
import { createValidationPipe } from '../src/infrastructure/http/validation.js';
import { createHttpAdapter, parseBodies } from '../src/infrastructure/http/http-platform.js';

/** What the bare endpoint answers, whatever it is sent. */
const CONSTANT = Object.freeze({ orderId: 'bare', status: 'pending', amount: 1999, currency: 'CNY' });

@Controller('orders')
class BareOrdersController {
  @Post()
  @HttpCode(201)
  place(@Body() _body: unknown): object {
    return CONSTANT;
  }
}

@Controller('orders')
class ValidatedOrdersController {
  @Post()
  @HttpCode(201)
  place(@Body() _body: CreateOrderDto): object {
    return CONSTANT;
  }
}

@Module({ controllers: [BareOrdersController] })
class BareModule {}

@Module({ controllers: [ValidatedOrdersController] })
class ValidatedModule {}

/** Nest on Fastify with the body parsing of bootstrap.ts (JSON and forms, kept raw too), and nothing else. */
async function startBareFastify(): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create<NestFastifyApplication>(BareModule, createHttpAdapter(), { rawBody: true, bodyParser: false, logger: false });
  parseBodies(app);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${port}` };
}

/** Nest's default platform (Express), JSON and form bodies kept raw too (as Payguard keeps them), and nothing else. */
async function startBare(validated = false): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create<NestExpressApplication>(validated ? ValidatedModule : BareModule, { rawBody: true, bodyParser: false, logger: false });
  app.useBodyParser('json', { limit: '64kb' });
  app.useBodyParser('urlencoded', { limit: '64kb', extended: false });
  if (validated) app.useGlobalPipes(createValidationPipe());
  app.disable('x-powered-by');
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${port}` };
}

async function startReal(
  dataDir: string,
  variant?: 'memory' | 'sync-normal' | 'no-background',
  postgresSchema?: string,
): Promise<{ app: INestApplication; url: string }> {
  let store: SqliteEventStore | undefined;
  if (variant === 'sync-normal') {
    store = new SqliteEventStore({ file: join(dataDir, 'payguard.db') });
    store.database.pragma('synchronous = NORMAL');
  }
  const env = {
    PORT: '0',
    DATA_DIR: dataDir,
    ...(variant === 'memory' && { EVENT_STORE: 'memory' }),
    ...(postgresSchema !== undefined && { EVENT_STORE: 'postgres', DATABASE_URL, DATABASE_SCHEMA: postgresSchema }),
  };
  const running = await startPayguard({ env, host: '127.0.0.1', logger: false, store });
  // Its shutdown hook stops every follower and timer it runs (requests are still served).
  if (variant === 'no-background') await running.workers.beforeApplicationShutdown();
  return { app: running.app, url: running.url };
}

async function start(kind: string | undefined, dataDir: string | undefined, schema: string | undefined): Promise<{ app: INestApplication; url: string } | null> {
  switch (kind) {
    case 'bare':
      return startBare();
    case 'bare-fastify':
      return startBareFastify();
    case 'bare-validated':
      return startBare(true);
    case 'payguard-memory':
      return startReal(dataDir ?? '/nonexistent', 'memory');
    case 'payguard':
      return dataDir ? startReal(dataDir, undefined, schema) : null;
    case 'payguard-sync-normal':
      return dataDir ? startReal(dataDir, 'sync-normal') : null;
    case 'payguard-no-background':
      return dataDir ? startReal(dataDir, 'no-background') : null;
    default:
      return null;
  }
}

const [kind, dataDir, schema] = process.argv.slice(2);
if (typeof process.send !== 'function') throw new Error('http-server.js must be forked with an IPC channel');
const started = await start(kind, dataDir, schema);
if (started === null) throw new Error(`usage: http-server.js <kind> [dataDir] [schema] (got ${process.argv.slice(2).join(' ')})`);

process.on('message', (message: unknown) => {
  if ((message as { type?: string }).type !== 'stop') return;
  void started.app.close().finally(() => process.exit(0));
});
process.send({ type: 'ready', url: started.url });
