/**
 * The worker thread behind ThreadedProjectionStore: a SqliteProjectionStore on a connection of its
 * own, answering the calls posted to it, one at a time and in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ProjectionStore } from '../../application/ports/projection-store.port.js';
import { SqliteProjectionStore } from './sqlite.projection-store.js';

export interface Call {
  readonly id: number;
  readonly method: keyof ProjectionStore;
  readonly args: readonly unknown[];
}

export type Answer =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string; readonly details: Record<string, unknown> } };

const { file, durable } = workerData as { file: string; durable: boolean };
const port = parentPort!;
let store: SqliteProjectionStore | null = null;
let opening: Error | null = null;
try {
  store = SqliteProjectionStore.open(file, { durable });
} catch (error) {
  opening = error as Error;
}

port.on('message', async ({ id, method, args }: Call) => {
  try {
    if (store === null) throw opening ?? new Error('projection store closed');
    const result = await (store[method] as (...a: unknown[]) => Promise<unknown>).apply(store, [...args]);
    if (method === 'close') store = null;
    port.postMessage({ id, result } satisfies Answer);
  } catch (error) {
    const { name, message, ...details } = error as Error & Record<string, unknown>;
    port.postMessage({ id, error: { name: (error as Error).name ?? name, message, details } } satisfies Answer);
  }
});
