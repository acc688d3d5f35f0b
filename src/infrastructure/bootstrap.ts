import 'reflect-metadata';
import { Logger, type INestApplication, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { DestinationStream } from 'pino';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../app.module.js';
import { BackgroundWorkers } from '../application/workers/background-workers.js';
import type { Clock, IdGenerator } from '../application/ports/clock.port.js';
import type { EventStore, KeyedCheckpointStore } from '../application/ports/event-store.port.js';
import type { Leadership } from '../application/ports/leadership.port.js';
import type { PayguardSettings } from '../application/ports/settings.port.js';
import { InMemoryChannelRegistry } from './channels/channel-registry.js';
import { providerChannels, sandboxChannels } from './channels/configured-channels.js';
import { loadConfig, type AppConfig } from './config/config.js';
import { EventStoreDbEventStore } from './event-store/eventstoredb.event-store.js';
import { EventStoreDbLeadership } from './event-store/eventstoredb.leadership.js';
import { openServiceStore } from './event-store/open-service-store.js';
import { guardBodyShape } from './http/body-limits.js';
import { buildApiDocument, DOCS_OPTIONS } from './http/openapi-document.js';
import { serviceLogger } from './http/log-sanitizer.js';
import { Metrics } from './http/metrics.js';
import { createRootLogger, ServiceJsonLogger, withJsonLogs } from './observability/logging.js';
import { observeRequests } from './observability/request-observer.js';
import { addSecurityHeaders } from './http/security-headers.js';
import { createHttpAdapter, parseBodies, type ServedRoute } from './http/http-platform.js';
import { answerConditionalGets } from './http/conditional-get.js';
import { configureServer } from './http/server-lifecycle.js';
import { createValidationPipe } from './http/validation.js';
import { openProjectionStore } from './projections/open-projection-store.js';
import { openWebhookStore } from './webhooks/open-webhook-store.js';
import { openIdempotencyStore } from './idempotency/open-idempotency-store.js';
import { captureAnswers } from './idempotency/answer-capture.js';
import { PostgresLeadership } from './event-store/postgres.leadership.js';
import { SingleInstanceLeadership } from './system/single-instance.leadership.js';
import { CryptoIdGenerator, SystemClock } from './system/system-clock.js';

export interface StartOptions {
  readonly env?: Record<string, string | undefined>;
  /** Listen address (default all interfaces; tests use 127.0.0.1). */
  readonly host?: string;
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  readonly store?: EventStore & KeyedCheckpointStore;
  /**
   * Absent: JSON lines through nestjs-pino at LOG_LEVEL, with an access line per request (what
   * main.ts runs). Levels: Nest's sanitized console logger (tests); a logger: that one; false: none.
   */
  readonly logger?: LoggerService | LogLevel[] | false;
  /** Where the JSON logs go instead of stdout (a benchmark measuring the access log in-process); only without `logger`. */
  readonly logStream?: DestinationStream;
}

export interface RunningPayguard {
  readonly app: INestApplication;
  readonly url: string;
  readonly config: AppConfig;
  readonly store: EventStore & KeyedCheckpointStore;
  readonly channels: InMemoryChannelRegistry;
  readonly workers: BackgroundWorkers;
  /** Every method and route template the app serves (Swagger UI's included). */
  readonly routes: readonly ServedRoute[];
  close(): Promise<void>;
}

/** An advisory lock on PostgreSQL, a lease on EventStoreDB (on the store's own connection), else this instance alone. */
function chooseLeadership(config: AppConfig, store: EventStore): Leadership {
  if (config.eventStore === 'postgres' && config.databaseUrl !== null) {
    return new PostgresLeadership({ connectionString: config.databaseUrl, schema: config.databaseSchema });
  }
  if (config.eventStore === 'eventstoredb' && store instanceof EventStoreDbEventStore) {
    return new EventStoreDbLeadership({ client: store.client, namespace: store.namespace });
  }
  return new SingleInstanceLeadership();
}

/** Builds, starts and wires the whole service; used by main.ts, the e2e tests and the benchmarks. */
export async function startPayguard(options: StartOptions = {}): Promise<RunningPayguard> {
  const config = loadConfig(options.env ?? process.env);
  const clock = options.clock ?? new SystemClock();
  // A provider whose configuration is missing is not offered (starting a payment on it is a 400);
  // one whose keys don't read stops the start here, before anything is opened.
  const now = () => clock.now();
  const providers = providerChannels(config, now);
  // SQLite: DATA_DIR locked for this instance, and the file checked (quick_check) before it is used.
  const store = options.store ?? (await openServiceStore(config));
  const runtime = { publicBaseUrl: config.publicBaseUrl ?? `http://127.0.0.1:${config.port}` };
  const settings: PayguardSettings = {
    get publicBaseUrl() {
      return runtime.publicBaseUrl;
    },
    paymentMinValiditySeconds: config.paymentMinValiditySeconds,
    channelExpiryMarginSeconds: config.channelExpiryMarginSeconds,
    reconcileIntervalSeconds: config.reconcileIntervalSeconds,
    expiryCloseBudgetMs: config.expiryCloseBudgetMs,
    tradeWatchSeconds: config.tradeWatchSeconds,
    refundMaxAttempts: config.refundMaxAttempts,
    reportTimeZone: config.reportTimeZone,
  };
  const channels = new InMemoryChannelRegistry();
  const parts = {
    config,
    store,
    // The reporting projections, beside the events (same SQLite file, same PostgreSQL schema).
    projections: await openProjectionStore(config, store),
    // Webhook endpoints (their secrets never enter the log), deliveries and the merchant feed, beside the events too.
    webhooks: await openWebhookStore(config, store),
    // Idempotency-Key answers, beside the events too (EventStoreDB: a SQLite file per instance in DATA_DIR).
    idempotency: await openIdempotencyStore(config, store),
    settings,
    channels,
    clock,
    ids: options.ids ?? new CryptoIdGenerator(),
    // On PostgreSQL and EventStoreDB several instances share the log: one of them, elected, runs the background work.
    leadership: chooseLeadership(config, store),
  };
  const json = options.logger === undefined ? createRootLogger(config.logLevel, options.logStream) : null;
  const adapter = createHttpAdapter();
  const app = await NestFactory.create<NestFastifyApplication>(json === null ? AppModule.forRoot(parts) : withJsonLogs(AppModule.forRoot(parts), json), adapter, {
    rawBody: true,
    bodyParser: false,
    ...(json === null ? { logger: serviceLogger(options.logger ?? false) } : { bufferLogs: true }),
  });
  if (json !== null) app.useLogger(app.get(ServiceJsonLogger));
  const metrics = config.metricsEnabled ? app.get(Metrics) : null;
  if (metrics !== null) channels.decorateWith((channel) => metrics.instrument(channel));
  const fastify = adapter.getInstance();
  const routes: ServedRoute[] = [];
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, path: route.url });
  });
  // First, so that a request refused before it reaches a controller (413, a bad body) is logged and counted too.
  observeRequests(fastify, { ids: parts.ids, logger: json, accessLog: json?.isLevelEnabled('info') ?? false, metrics });
  addSecurityHeaders(fastify);
  parseBodies(app);
  guardBodyShape(fastify);
  captureAnswers(fastify);
  answerConditionalGets(fastify);
  app.useGlobalPipes(createValidationPipe());
  configureServer(app.getHttpServer());
  SwaggerModule.setup('docs', app, buildApiDocument(app), DOCS_OPTIONS);

  // Channels are offered before the first request can arrive; only with PORT=0 (tests) is the
  // in-process gateway's address known no earlier than the socket is bound.
  const offerChannels = (baseUrl: string): string => {
    const gatewayUrl = config.sandboxGatewayUrl ?? `${baseUrl}/sandbox`;
    // SANDBOX_ENABLED=false: sandbox-bank and sandbox-wallet are unknown channels, even with SANDBOX_GATEWAY_URL set.
    const sandbox = config.sandboxEnabled ? sandboxChannels(config, gatewayUrl) : [];
    for (const channel of [...sandbox, ...providers]) channels.register(channel);
    return gatewayUrl;
  };
  let gatewayUrl = config.port === 0 ? '' : offerChannels(`http://127.0.0.1:${config.port}`);
  await app.listen(config.port, options.host ?? '0.0.0.0');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  runtime.publicBaseUrl = config.publicBaseUrl ?? url;
  if (config.port === 0) gatewayUrl = offerChannels(url);

  const workers = app.get(BackgroundWorkers);
  await workers.start();

  const logger = new Logger('Payguard');
  const host = options.host ?? '0.0.0.0';
  logger.log(`listening on ${host === '0.0.0.0' ? `every interface, port ${port}` : `${host}:${port}`} (public base URL ${runtime.publicBaseUrl})`);
  logger.log(`event store: ${config.eventStore}${config.eventStore === 'sqlite' ? ` in ${config.dataDir}` : ''}`);
  const off = [
    ...(config.sandboxEnabled ? [] : ['sandbox-bank, sandbox-wallet (the sandbox is off)']),
    ...['alipay', 'wechatpay'].filter((id) => channels.get(id) === undefined).map((id) => `${id} (not configured)`),
  ];
  logger.log(`channels on: ${channels.ids().join(', ') || 'none'}${off.length > 0 ? `; off: ${off.join(', ')}` : ''}`);
  logger.log(config.sandboxEnabled ? `sandbox: on (gateway ${gatewayUrl})` : 'sandbox: off (SANDBOX_ENABLED=false)');
  if (config.sandboxEnabled && config.apiKeys !== null) logger.warn('the sandbox is on with API_KEYS set: its channels take no real money (demo use only)');
  if (config.apiKeys === null) logger.warn('API_KEYS is not set: the service runs OPEN, without authentication (local use only)');
  return { app, url, config, store, channels, workers, routes, close: () => app.close() };
}
