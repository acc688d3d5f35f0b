/** Query-string parsing for the report endpoints: every parameter checked, unknown ones refused. */
import type { FieldError } from './problem.js';
import { ID_PATTERN, validationFailed } from './validation.js';

type Query = Record<string, unknown>;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class QueryReader {
  private readonly errors: FieldError[] = [];

  constructor(
    private readonly query: Query,
    allowed: readonly string[],
  ) {
    for (const name of Object.keys(query)) {
      if (!allowed.includes(name)) this.errors.push({ field: name, message: `is not a parameter of this report (allowed: ${allowed.join(', ')})` });
    }
  }

  /** One of `values`, or undefined when absent. */
  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    if (values.includes(raw as T)) return raw as T;
    this.errors.push({ field: name, message: `must be one of ${values.join(', ')}` });
    return undefined;
  }

  /** An ISO 8601 time (or a YYYY-MM-DD day, meaning its UTC midnight), normalised to UTC milliseconds. */
  time(name: string): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const ms = Date.parse(raw);
    if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(raw) && !Number.isNaN(ms)) return new Date(ms).toISOString();
    this.errors.push({ field: name, message: 'must be an ISO 8601 time, e.g. 2026-11-26T10:00:00.000Z, or a day, e.g. 2026-11-26' });
    return undefined;
  }

  /** A UTC day, YYYY-MM-DD. */
  day(name: string): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    if (DAY.test(raw) && !Number.isNaN(Date.parse(raw)) && new Date(Date.parse(raw)).toISOString().startsWith(raw)) return raw;
    this.errors.push({ field: name, message: 'must be a day, YYYY-MM-DD (UTC)' });
    return undefined;
  }

  id(name: string): string | undefined {
    const raw = this.string(name);
    if (raw === undefined || ID_PATTERN.test(raw)) return raw;
    this.errors.push({ field: name, message: 'must be 1-64 characters of [A-Za-z0-9_-]' });
    return undefined;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (/^\d+$/.test(raw) && value >= min && value <= max) return value;
    this.errors.push({ field: name, message: `must be an integer from ${min} to ${max}` });
    return fallback;
  }

  string(name: string): string | undefined {
    const raw = this.query[name];
    if (raw === undefined || raw === '') return undefined;
    if (typeof raw === 'string' && raw.length <= 512) return raw;
    this.errors.push({ field: name, message: 'must be given once, as text' });
    return undefined;
  }

  /** Checks `from` < `to` when both are given. */
  ordered(from: string | undefined, to: string | undefined, message: string): void {
    if (from !== undefined && to !== undefined && from > to) this.errors.push({ field: 'to', message });
  }

  /** Throws `400 validation` with every error found. */
  done(): void {
    if (this.errors.length > 0) throw validationFailed(this.errors);
  }
}
