/** Query-string parsing for the list, report and audit endpoints: every parameter checked, unknown ones refused. */
import type { FieldError } from './problem.js';
import { ID_PATTERN, validationFailed } from './validation.js';
import { isDay } from '../../application/reporting/report-days.js';

type Query = Record<string, unknown>;

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export class QueryReader {
  private readonly errors: FieldError[] = [];

  constructor(
    private readonly query: Query,
    allowed: readonly string[],
  ) {
    for (const name of Object.keys(query)) {
      if (!allowed.includes(name)) this.errors.push({ field: name, message: `is not a parameter of this endpoint (allowed: ${allowed.join(', ') || 'none'})` });
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

  /**
   * A bound of a report: a day, YYYY-MM-DD (a day in REPORT_TIMEZONE, given as written), or an
   * ISO 8601 instant with its zone (normalised to UTC). The reports reader says what each means.
   */
  time(name: string): string | undefined {
    // An unencoded + in a query string arrives as a space: 2026-11-30T08:00:00+08:00 is meant.
    const raw = this.string(name)?.replace(/ (\d{2}:\d{2})$/, '+$1');
    if (raw === undefined) return undefined;
    if (DAY.test(raw)) {
      if (isDay(raw)) return raw;
    } else {
      const ms = Date.parse(raw);
      if (INSTANT.test(raw) && !Number.isNaN(ms)) return new Date(ms).toISOString();
    }
    this.errors.push({ field: name, message: 'must be a day, e.g. 2026-11-30 (in REPORT_TIMEZONE), or an ISO 8601 time with its zone, e.g. 2026-11-30T00:00:00Z' });
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

  /** Throws `400 validation` with every error found. */
  done(): void {
    if (this.errors.length > 0) throw validationFailed(this.errors);
  }
}
