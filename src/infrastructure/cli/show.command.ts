import { orderAsOf } from '../../application/audit/history.js';
import type { EventStore } from '../../application/ports/event-store.port.js';
import { CliError, type CliIo } from './cli-io.js';

/** Prints the order, its payments and refunds as they stood at `at` (JSON). */
export async function showOrder(store: EventStore, orderId: string, at: Date | null, io: CliIo): Promise<void> {
  const found = await orderAsOf(store, orderId, at);
  if (found === null) {
    throw new CliError(at === null ? `order ${orderId} does not exist` : `order ${orderId} did not exist yet at ${at.toISOString()}`);
  }
  await io.out(`${JSON.stringify(found, null, 2)}\n`);
}
