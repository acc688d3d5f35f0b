import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import { Logger as PinoNestLogger, LoggerModule } from 'nestjs-pino';
import { pino, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { LogLevelName } from '../config/config.js';
import { sanitizeLogMessage } from '../http/log-sanitizer.js';

/**
 * The service's one pino logger: one JSON object per line on stdout (`level` as its name, `time`
 * as an ISO instant), or pino-pretty's coloured lines when stdout is a terminal. Every string
 * handed to it is sanitized as the console logger's were (see sanitizeLogMessage): JSON already
 * escapes C0 controls, but not C1 controls, bidirectional overrides or U+2028, and pino-pretty
 * prints a message as it is. A given destination gets JSON, whatever it is.
 */
export function createRootLogger(level: LogLevelName, destination?: DestinationStream): Logger {
  const pretty = destination === undefined && process.stdout.isTTY === true;
  const options: LoggerOptions = {
    level,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map(sanitizeArgument) as Parameters<typeof method>);
      },
    },
    ...(pretty && { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }),
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** A string, or the `msg` of a line given as an object (see correlated()), sanitized; anything else as it is. */
function sanitizeArgument(arg: unknown): unknown {
  if (typeof arg === 'string') return sanitizeLogMessage(arg);
  if (typeof arg === 'object' && arg !== null && typeof (arg as { msg?: unknown }).msg === 'string') {
    return { ...arg, msg: sanitizeLogMessage((arg as { msg: string }).msg) };
  }
  return arg;
}

/** Nest's own start-up chatter (a line per module and per route mapped): debug, not info. */
const NEST_WIRING = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/** nestjs-pino's logger for Nest, with Nest's wiring lines moved down to debug. */
@Injectable()
export class ServiceJsonLogger extends PinoNestLogger {
  override log(message: unknown, ...params: unknown[]): void {
    if (NEST_WIRING.has(params[params.length - 1] as string)) this.debug(message, ...params);
    else super.log(message, ...params);
  }
}

@Module({ providers: [ServiceJsonLogger] })
class JsonLogsRootModule {}

/**
 * The app with nestjs-pino as Nest's logger, writing through `root`. The access line goes through
 * the request logger that RequestObserver puts on `req.log` (with the correlation id and trace);
 * the other lines written while a request is handled name their correlation id themselves (see
 * correlated()). nestjs-pino's per-request binding (an AsyncLocalStorage run per request, which
 * would do that implicitly) is off: `forRoutes: []` mounts no middleware, because on Node 20 an
 * AsyncLocalStorage costs every promise in the process (BENCHMARKS.md). nestjs-pino keeps one
 * root logger per process: one app per process logs JSON (the service's own main.ts); tests that
 * start several apps in one process give StartOptions.logger.
 */
export function withJsonLogs(app: DynamicModule, root: Logger): DynamicModule {
  return {
    module: JsonLogsRootModule,
    imports: [app, LoggerModule.forRoot({ pinoHttp: { logger: root }, useExisting: true, forRoutes: [] })],
  };
}
