/**
 * The open-work view as the rows of a keyed checkpoint: one row per entry, keyed by its section
 * and id (`order:<orderId>`, `trade:<paymentId>`, `anomaly:<paymentId>`, `refund:<paymentId>`),
 * its value the entry as the view holds it. So a save writes the entries that changed, not the view.
 */
import type { StateRow } from '../ports/event-store.port.js';
import { emptyOpenWork, type OpenWork, type OpenWorkSection } from './open-work.js';

const PREFIX: Readonly<Record<OpenWorkSection, string>> = {
  pendingOrders: 'order',
  trades: 'trade',
  unrefundedAnomalies: 'anomaly',
  openRefunds: 'refund',
};
const SECTIONS = Object.keys(PREFIX) as OpenWorkSection[];
const SECTION_OF = new Map(SECTIONS.map((section) => [PREFIX[section], section]));

/** An entry of the view: where it lives. */
export interface OpenWorkEntry {
  readonly section: OpenWorkSection;
  readonly id: string;
}

export function rowKey(section: OpenWorkSection, id: string): string {
  return `${PREFIX[section]}:${id}`;
}

/** The entry a row key names; throws for a section this build does not know (a newer build's row). */
export function entryOf(key: string): OpenWorkEntry {
  const colon = key.indexOf(':');
  const section = colon < 0 ? undefined : SECTION_OF.get(key.slice(0, colon));
  if (section === undefined) throw new Error(`open-work row ${JSON.stringify(key)} names no section this build knows`);
  return { section, id: key.slice(colon + 1) };
}

/** The view the rows hold. */
export function openWorkFromRows(rows: readonly StateRow[]): OpenWork {
  const work = emptyOpenWork();
  for (const { key, value } of rows) {
    const { section, id } = entryOf(key);
    (work[section] as Record<string, unknown>)[id] = value;
  }
  return work;
}

/** Every entry of the view, as row keys and entries. */
export function entriesOf(work: OpenWork): Map<string, OpenWorkEntry> {
  const entries = new Map<string, OpenWorkEntry>();
  for (const section of SECTIONS) for (const id of Object.keys(work[section])) entries.set(rowKey(section, id), { section, id });
  return entries;
}

/**
 * The view as releases before rows stored it: the whole of it as the checkpoint's state.
 * Sections it lacks are empty; anything but an object of objects is refused, not guessed at.
 */
export function openWorkFromWholeState(state: unknown): OpenWork {
  if (!isRecord(state)) throw new Error('open-work checkpoint state is not a view of open work');
  const work = emptyOpenWork();
  for (const section of SECTIONS) {
    const entries = state[section] ?? {};
    if (!isRecord(entries)) throw new Error(`open-work checkpoint state: ${section} is not an object`);
    Object.assign(work[section], entries);
  }
  return work;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
