import type { StateChange } from '../../application/ports/event-store.port.js';

/** A change as the stores write it: the value as JSON text, null to delete the key. */
export interface EncodedChange {
  readonly key: string;
  readonly json: string | null;
}

/**
 * The changes of one `saveRows`, checked and encoded before anything is written: one change per
 * key (the last given wins), each value as JSON. Throws, so that nothing is written, for a key
 * that is not a string or a value JSON cannot hold (undefined, a function, a BigInt, a cycle).
 */
export function encodeChanges(name: string, changes: readonly StateChange[]): EncodedChange[] {
  const byKey = new Map<string, string | null>();
  for (const { key, value } of changes) {
    if (typeof key !== 'string') throw new TypeError(`checkpoint ${name}: a row key must be a string, not ${typeof key}`);
    if (value === null) {
      byKey.set(key, null);
      continue;
    }
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError(`checkpoint ${name}: the value of row ${JSON.stringify(key)} cannot be stored as JSON`);
    byKey.set(key, json);
  }
  return Array.from(byKey, ([key, json]) => ({ key, json }));
}
