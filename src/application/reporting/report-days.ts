/**
 * Days in the report time zone (REPORT_TIMEZONE, default Asia/Shanghai: the day Alipay and WeChat
 * Pay cut their statements at). A report's day runs from one local midnight to the next, so a
 * day's settlement can be laid beside the provider's statement of that day.
 */

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A quarter of an hour: today every zone's day begins on such a boundary of UTC. */
const SLOT_MS = 900_000;

/** The zone's IANA name as the runtime knows it, or null when it knows no such zone. */
export function canonicalTimeZone(name: string): string | null {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** True for a real calendar day written YYYY-MM-DD. */
export function isDay(text: string): boolean {
  const match = DAY.exec(text);
  if (match === null) return false;
  const [, y, m, d] = match.map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/**
 * Turns instants into days and days into instants in one zone. A log is read in time order, so
 * consecutive calls usually fall in one quarter of an hour: the last answer is kept for its
 * quarter-hour when the day does not change within it.
 */
export class ReportDays {
  private readonly formatter: Intl.DateTimeFormat;
  private lastSlot = Number.NaN;
  private lastDay = '';

  constructor(readonly timeZone: string) {
    this.formatter = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hourCycle: 'h23' });
  }

  /** The zone's day (YYYY-MM-DD) at an instant given in milliseconds since the epoch. */
  dayOf(ms: number): string {
    const slot = Math.floor(ms / SLOT_MS);
    if (slot === this.lastSlot) return this.lastDay;
    const first = this.format(slot * SLOT_MS);
    // A slot whose first and last moments are one day is that day throughout; one where the day changes is never kept.
    if (this.format((slot + 1) * SLOT_MS - 1) !== first) return this.format(ms);
    this.lastSlot = slot;
    this.lastDay = first;
    return first;
  }

  /** The zone's day of an ISO 8601 time; `fallback`'s when `time` can't be read. */
  dayOfTime(time: string, fallback: string): string {
    const ms = Date.parse(time);
    return this.dayOf(Number.isNaN(ms) ? Date.parse(fallback) : ms);
  }

  /**
   * The first instant of `day` in the zone (its midnight, or the moment the day begins when a
   * clock change skips midnight), in milliseconds. Found by bisection: offsets lie within ±15 h.
   */
  startOf(day: string): number {
    const [, y, m, d] = DAY.exec(day)!.map(Number);
    const utcMidnight = Date.UTC(y, m - 1, d);
    let low = utcMidnight - 15 * 3_600_000; // before the day begins anywhere
    let high = utcMidnight + 15 * 3_600_000; // after it has begun everywhere
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (this.dayOf(middle) >= day) high = middle;
      else low = middle;
    }
    return high;
  }

  /** The day after `day`. */
  static next(day: string): string {
    const [, y, m, d] = DAY.exec(day)!.map(Number);
    return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  }

  private format(ms: number): string {
    const parts = this.formatter.formatToParts(new Date(ms));
    const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)!.value;
    return `${part('year').padStart(4, '0')}-${part('month')}-${part('day')}`;
  }
}
