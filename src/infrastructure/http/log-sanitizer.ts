import { ConsoleLogger, type LoggerService, type LogLevel } from '@nestjs/common';
import type { CorrelatedLine } from '../../application/shared/log-lines.js';

/**
 * What may not reach a log line as it is: C0 and C1 control characters (ESC starts the ANSI
 * sequences that recolour, move the cursor or retitle a terminal), DEL, and the Unicode line
 * separators and bidirectional overrides that make a line read other than it is.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string): string {
  const code = char.charCodeAt(0);
  return NAMED[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** A value that came with a request (a path, a header, an id), escaped to stay on one line and print as it is. */
export function escapeForLog(value: string): string {
  return value.replace(UNSAFE, escapeChar);
}

/**
 * A whole log message: control characters escaped, newlines kept (stack traces span lines), but
 * every continuation line indented, so a line at column 0 always starts an entry of this
 * service and a value carrying a newline cannot forge one.
 */
export function sanitizeLogMessage(message: string): string {
  return message.replace(UNSAFE_BUT_NEWLINE, escapeChar).replace(/\n(?![ \t])/g, '\n    ');
}

/** A string sanitized; a line with its correlation id (see correlated()) as one sanitized string; anything else as it is. */
function clean(value: unknown): unknown {
  if (typeof value === 'string') return sanitizeLogMessage(value);
  if (isCorrelatedLine(value)) return `${sanitizeLogMessage(value.msg)} (correlation id ${sanitizeLogMessage(value.correlationId)})`;
  return value;
}

function isCorrelatedLine(value: unknown): value is CorrelatedLine {
  return typeof value === 'object' && value !== null && typeof (value as CorrelatedLine).msg === 'string' && typeof (value as CorrelatedLine).correlationId === 'string';
}

/**
 * NestJS's console logger, with every message and stack sanitized (see sanitizeLogMessage).
 * Objects are left to the logger, which prints them as JSON (where control characters are escaped).
 */
export class SanitizingConsoleLogger extends ConsoleLogger {
  override log(message: unknown, ...rest: unknown[]): void {
    super.log(clean(message), ...rest.map(clean));
  }

  override error(message: unknown, ...rest: unknown[]): void {
    super.error(clean(message), ...rest.map(clean));
  }

  override warn(message: unknown, ...rest: unknown[]): void {
    super.warn(clean(message), ...rest.map(clean));
  }

  override debug(message: unknown, ...rest: unknown[]): void {
    super.debug(clean(message), ...rest.map(clean));
  }

  override verbose(message: unknown, ...rest: unknown[]): void {
    super.verbose(clean(message), ...rest.map(clean));
  }

  override fatal(message: unknown, ...rest: unknown[]): void {
    super.fatal(clean(message), ...rest.map(clean));
  }
}

/** The logger the service runs with: levels become a sanitizing console logger; a given logger is used as it is. */
export function serviceLogger(option: LoggerService | LogLevel[] | false): LoggerService | false {
  if (option === false) return false;
  if (Array.isArray(option)) return new SanitizingConsoleLogger({ logLevels: option });
  return option;
}
