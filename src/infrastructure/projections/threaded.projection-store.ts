import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  ProjectionOutOfStepError,
  type AnomaliesQuery,
  type AnomalyRow,
  type KeyedRow,
  type OrderRow,
  type OrdersQuery,
  type ProjectionCheckpoint,
  type ProjectionName,
  type ProjectionStore,
  type ProjectionUpdate,
  type ReportTable,
  type SettlementQuery,
  type SettlementRow,
} from '../../application/ports/projection-store.port.js';
import type { Answer, Call } from './sqlite-projection.worker.js';

const WORKER = new URL('./sqlite-projection.worker.js', import.meta.url);

/**
 * A SqliteProjectionStore running on a worker thread, for the audit CLI's rebuilds: the main
 * thread reads and decodes the log while the worker writes the previous chunk's rows (better-sqlite3
 * blocks the thread it runs on, so in one thread the two would take turns). Same file, same
 * semantics: calls are answered in order, an apply is one transaction with its checkpoints.
 */
export class ThreadedProjectionStore implements ProjectionStore {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private failed: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (answer: Answer) => {
      const call = this.pending.get(answer.id);
      if (call === undefined) return;
      this.pending.delete(answer.id);
      if ('error' in answer) call.reject(revive(answer.error));
      else call.resolve(answer.result);
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`projection worker exited (${code})`)));
  }

  /** False where the worker's compiled file is missing (running from TypeScript sources, as tests do). */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER));
  }

  /** `durable: false` skips fsync (a scratch copy). */
  static async open(file: string, options: { durable?: boolean } = {}): Promise<ThreadedProjectionStore> {
    const store = new ThreadedProjectionStore(new Worker(WORKER, { workerData: { file, durable: options.durable !== false } }));
    await store.checkpoints(); // the worker has opened (and migrated) the file, or this throws
    return store;
  }

  checkpoints(): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    return this.call('checkpoints');
  }

  apply(updates: readonly ProjectionUpdate[]): Promise<Record<ProjectionName, ProjectionCheckpoint>> {
    return this.call('apply', updates);
  }

  reset(projection: ProjectionName, version: number, settings: string): Promise<void> {
    return this.call('reset', projection, version, settings);
  }

  orders(query: OrdersQuery): Promise<OrderRow[]> {
    return this.call('orders', query);
  }

  anomalies(query: AnomaliesQuery): Promise<AnomalyRow[]> {
    return this.call('anomalies', query);
  }

  settlement(query: SettlementQuery): Promise<SettlementRow[]> {
    return this.call('settlement', query);
  }

  rows(table: ReportTable, afterKey: string | null, limit: number): Promise<KeyedRow[]> {
    return this.call('rows', table, afterKey, limit);
  }

  async close(): Promise<void> {
    if (this.failed === null) await this.call('close').catch(() => undefined);
    this.failed ??= new Error('projection store closed');
    await this.worker.terminate();
  }

  private call<T>(method: Call['method'], ...args: unknown[]): Promise<T> {
    if (this.failed !== null) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, method, args } satisfies Call);
    });
  }

  private fail(error: Error): void {
    this.failed ??= error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

/** The error the worker threw, as the caller knows it (ProjectionOutOfStepError stays one). */
function revive(error: { name: string; message: string; details: Record<string, unknown> }): Error {
  if (error.name === 'ProjectionOutOfStepError') {
    const { projection, expected, actual } = error.details as { projection: ProjectionName; expected: number; actual: number };
    return new ProjectionOutOfStepError(projection, expected, actual);
  }
  return Object.assign(new Error(error.message), { name: error.name });
}
