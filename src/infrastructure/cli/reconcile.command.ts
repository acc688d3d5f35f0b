import { ProviderReconciler, type ReconcileFinding, type ReconcileReport } from '../../application/audit/provider-reconciler.js';
import { readLog } from '../../application/audit/log-reader.js';
import type { PaymentChannel } from '../../application/ports/channel.port.js';
import type { EventStore } from '../../application/ports/event-store.port.js';
import type { CliIo } from './cli-io.js';

export interface ReconcileCommandOptions {
  readonly all: boolean;
  readonly graceSeconds: number;
  readonly json: boolean;
}

/** Folds the log, asks the channels, prints each difference as found, then a summary. */
export async function reconcile(
  store: EventStore,
  channels: readonly PaymentChannel[],
  options: ReconcileCommandOptions,
  io: CliIo,
): Promise<ReconcileReport> {
  const reconciler = new ProviderReconciler();
  // Not upcast here: the reconciler upcasts each event itself.
  for await (const batch of readLog(store, { raw: true, batchSize: 1000 })) for (const event of batch) reconciler.add(event);
  const byId = new Map(channels.map((channel) => [channel.id, channel]));
  const report = await reconciler.check((id) => byId.get(id), {
    all: options.all,
    graceSeconds: options.graceSeconds,
    onFinding: (finding) => io.out(options.json ? `${JSON.stringify({ finding })}\n` : describe(finding)),
  });
  if (options.json) {
    await io.out(`${JSON.stringify({ summary: report })}\n`);
  } else {
    const counts = Object.entries(report.byDifference).map(([difference, count]) => `${difference}: ${count}`);
    await io.out(
      `${report.differences === 0 ? 'OK' : 'DIFFERENCES'}: ${report.payments} payments in ${report.events} events; ` +
        `asked the providers about ${report.tradesAsked} trade(s) and ${report.refundsAsked} refund(s); ` +
        `${report.differences} difference(s)${counts.length > 0 ? ` [${counts.join(', ')}]` : ''}\n`,
    );
  }
  return report;
}

function describe(finding: ReconcileFinding): string {
  return `DIFFERENCE ${finding.difference} on payment ${finding.paymentId} (order ${finding.orderId}, ${finding.channel}): ${finding.detail}\n`;
}
