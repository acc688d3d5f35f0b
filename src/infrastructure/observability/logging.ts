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
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? sanitizeLogMessage(arg) : arg)) as Parameters<typeof method>);
      },
    },
    ...(pretty && { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }),
  };
  return destination === undefined ? pino(options) : pino(options, destination);
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
 * The app with nestjs-pino as Nest's logger. The request logger is the one RequestObserver puts
 * on `req.log` (with the correlation id); nestjs-pino keeps it in AsyncLocalStorage for the
 * request's duration (useExisting), so every line logged while handling it carries that id.
 * nestjs-pino keeps one root logger per process: one app per process logs JSON (the service's
 * own main.ts); tests that start several apps in one process give StartOptions.logger.
 */
export function withJsonLogs(app: DynamicModule, root: Logger): DynamicModule {
  return {
    module: JsonLogsRootModule,
    imports: [app, LoggerModule.forRoot({ pinoHttp: { logger: root }, useExisting: true })],
  };
}
