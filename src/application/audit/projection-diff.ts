import { TABLES_OF, type KeyedRow, type ProjectionName, type ProjectionStore, type ReportTable } from '../ports/projection-store.port.js';

/** One row that two projection stores do not agree on. */
export interface RowDifference {
  readonly projection: ProjectionName;
  readonly table: ReportTable;
  readonly key: string;
  /** The row in the live store (null: missing there). */
  readonly live: Readonly<Record<string, unknown>> | null;
  /** The row rebuilt from the log (null: missing there). */
  readonly rebuilt: Readonly<Record<string, unknown>> | null;
}

const PAGE = 1000;

/**
 * Compares two stores table by table, walking both in key order a page at a time (a merge, so
 * memory holds two pages, whatever the size of the tables). Calls `onDifference` for each row
 * that differs and returns how many rows it compared.
 */
export async function compareProjections(
  live: ProjectionStore,
  rebuilt: ProjectionStore,
  projections: readonly ProjectionName[],
  onDifference: (difference: RowDifference) => void,
): Promise<number> {
  let compared = 0;
  for (const projection of projections) {
    for (const table of TABLES_OF[projection]) {
      const left = pages(live, table);
      const right = pages(rebuilt, table);
      let a = await left.next();
      let b = await right.next();
      while (!a.done || !b.done) {
        compared++;
        if (b.done || (!a.done && a.value.key < b.value.key)) {
          onDifference({ projection, table, key: (a.value as KeyedRow).key, live: (a.value as KeyedRow).row, rebuilt: null });
          a = await left.next();
        } else if (a.done || b.value.key < a.value.key) {
          onDifference({ projection, table, key: b.value.key, live: null, rebuilt: b.value.row });
          b = await right.next();
        } else {
          if (!sameRow(a.value.row, b.value.row)) onDifference({ projection, table, key: a.value.key, live: a.value.row, rebuilt: b.value.row });
          a = await left.next();
          b = await right.next();
        }
      }
    }
  }
  return compared;
}

async function* pages(store: ProjectionStore, table: ReportTable): AsyncGenerator<KeyedRow> {
  for (let after: string | null = null; ; ) {
    const page = await store.rows(table, after, PAGE);
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1].key;
  }
}

function sameRow(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
