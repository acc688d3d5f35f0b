import { canonicalTimeZone, isDay, ReportDays } from '../../src/application/reporting/report-days.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('days in the report time zone', () => {
  it("puts 15:59:59.999Z in Beijing's day and 16:00Z in the next (UTC+8)", () => {
    const days = new ReportDays('Asia/Shanghai');

    expect(days.dayOf(Date.parse('2026-11-30T15:59:59.999Z'))).toBe('2026-11-30');
    expect(days.dayOf(Date.parse('2026-11-30T16:00:00.000Z'))).toBe('2026-12-01');
    expect(days.dayOf(Date.parse('2026-12-01T01:00:00.000Z'))).toBe('2026-12-01');
    expect(iso(days.startOf('2026-12-01'))).toBe('2026-11-30T16:00:00.000Z');
  });

  it('begins a day when its clocks say so: daylight saving, a midnight the clocks jump over, a quarter-hour offset', () => {
    expect(iso(new ReportDays('America/New_York').startOf('2026-03-08'))).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(new ReportDays('America/New_York').startOf('2026-11-02'))).toBe('2026-11-02T05:00:00.000Z');
    // Chile moved its clocks from 00:00 to 01:00 on 2022-09-11: that day began at 01:00 (-03).
    expect(iso(new ReportDays('America/Santiago').startOf('2022-09-11'))).toBe('2022-09-11T04:00:00.000Z');
    expect(iso(new ReportDays('Asia/Kathmandu').startOf('2026-12-01'))).toBe('2026-11-30T18:15:00.000Z');
  });

  it('gives the same day from its kept answer as from the zone itself, call after call across midnights', () => {
    for (const zone of ['Asia/Shanghai', 'Asia/Kathmandu', 'America/St_Johns', 'Europe/London']) {
      const days = new ReportDays(zone);
      const fresh = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
      for (let ms = Date.parse('2026-10-24T00:00:00Z'); ms < Date.parse('2026-11-03T00:00:00Z'); ms += 7 * 60_000 + 13_001) {
        expect(`${zone} ${days.dayOf(ms)}`).toBe(`${zone} ${fresh.format(ms)}`);
      }
    }
  });

  it('knows zones by their IANA names, in canonical spelling, and real calendar days only', () => {
    expect(canonicalTimeZone('asia/shanghai')).toBe('Asia/Shanghai');
    expect(canonicalTimeZone('Beijing')).toBeNull();
    expect(isDay('2026-02-28')).toBe(true);
    expect(isDay('2026-02-29')).toBe(false);
    expect(isDay('2026-13-01')).toBe(false);
  });
});
