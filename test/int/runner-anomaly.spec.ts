/**
 * The process manager and the refund executor end to end over the in-memory store: a second
 * success on a paid order becomes one anomaly, one refund request and one refund call, however
 * often the log hands the same events over.
 */
import { SharedLogReader } from '../../src/application/log/shared-log-reader.js';
import { orderStream, paymentStream } from '../../src/domain/shared/stream-names.js';
import { MemoryEventStore } from '../../src/infrastructure/event-store/memory.event-store.js';
import { CORRELATION, MERCHANT, ofType, RecordingLog, settle, World, type Read } from './runner-world.js';

const ORDER_STREAM = orderStream(`${MERCHANT}.ord_dup`);

let world: World;

beforeEach(() => {
  world = new World(new MemoryEventStore());
});
afterEach(async () => {
  await world.stopAll();
  await world.store.close();
});

describe('a paid order paid a second time', () => {
  it('is flagged duplicate-payment, refunded once by request naming the anomaly, and the channel is called once', async () => {
    await world.paidTwice('ord_dup', 'pay_a', 'pay_b');
    // One log reader for both runners, as the service has.
    const log = new SharedLogReader(world.store);
    const manager = world.processManager(log);
    const executor = world.refundExecutor(log);
    await manager.start();
    await executor.start();
    await settle(world.store, [manager, executor]);

    const events = await world.log();
    const [firstSuccess, secondSuccess] = ofType(events, 'PaymentSucceeded');
    expect([firstSuccess.streamName, secondSuccess.streamName]).toEqual([paymentStream('pay_a'), paymentStream('pay_b')]);

    // The first success pays the order; the second is the anomaly, caused by that success.
    const [paid] = ofType(events, 'OrderPaid');
    expect(paid).toMatchObject({ streamName: ORDER_STREAM, data: { paymentId: 'pay_a' }, metadata: { causationId: firstSuccess.eventId } });
    const anomalies = ofType(events, 'AnomalyDetected');
    expect(anomalies).toHaveLength(1);
    expect(anomalies[0]).toMatchObject({
      streamName: ORDER_STREAM,
      data: { orderId: 'ord_dup', paymentId: 'pay_b', kind: 'duplicate-payment' },
      metadata: { causationId: secondSuccess.eventId, correlationId: CORRELATION },
    });
    expect(anomalies[0].position).toBeGreaterThan(secondSuccess.position);

    // Exactly one refund request, of the second payment, naming the anomaly as its cause.
    const requests = ofType(events, 'RefundRequested');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      streamName: paymentStream('pay_b'),
      data: { refundId: 'refund-pay_b', paymentId: 'pay_b', amount: 1000, currency: 'CNY', reason: 'duplicate-payment' },
      metadata: { causationId: anomalies[0].eventId, correlationId: CORRELATION },
    });

    // The channel of the second payment was asked once, for what it took, under the derived refund id.
    expect(world.refundCalls).toEqual([
      { channel: 'sandbox-wallet', refundId: 'refund-pay_b', paymentId: 'pay_b', amount: { amount: 1000, currency: 'CNY' }, reason: 'duplicate-payment' },
    ]);
    const refunded = ofType(events, 'RefundSucceeded');
    expect(refunded).toHaveLength(1);
    expect(refunded[0]).toMatchObject({
      streamName: paymentStream('pay_b'),
      data: { refundId: 'refund-pay_b', amount: 1000, requestedAmount: 1000, channelRefundNo: 'ch-refund-pay_b' },
      metadata: { causationId: requests[0].eventId },
    });

    // Nothing else was appended: the first payment is kept and never refunded.
    expect(events.map((event) => `${event.streamName} ${event.type}`)).toEqual([
      `${ORDER_STREAM} OrderPlaced`,
      `${ORDER_STREAM} PaymentAttemptStarted`,
      `${paymentStream('pay_a')} PaymentInitiated`,
      `${ORDER_STREAM} PaymentAttemptStarted`,
      `${paymentStream('pay_b')} PaymentInitiated`,
      `${paymentStream('pay_a')} PaymentSucceeded`,
      `${paymentStream('pay_b')} PaymentSucceeded`,
      `${ORDER_STREAM} OrderPaid`,
      `${ORDER_STREAM} AnomalyDetected`,
      `${paymentStream('pay_b')} RefundRequested`,
      `${paymentStream('pay_b')} RefundSucceeded`,
    ]);
  });
});

/**
 * For each read that handed a batch over again: the head when the runner asked for it, and the
 * head once it had handled it (at its next read, or `finalHead` after the last read).
 */
function headsAroundReplays(reads: readonly Read[], finalHead: number): { positions: number[]; before: number; after: number }[] {
  return reads.flatMap((read, index) =>
    read.replay ? [{ positions: read.positions, before: read.headAtRead, after: reads[index + 1]?.headAtRead ?? finalHead }] : [],
  );
}

describe('a batch handed to a runner twice', () => {
  it('makes the process manager append nothing the second time', async () => {
    await world.paidTwice('ord_dup', 'pay_a', 'pay_b');
    const redelivering = new RecordingLog(world.store, true);
    const manager = world.processManager(redelivering);
    await manager.start();
    const head = await settle(world.store, [manager]);
    await manager.stop();

    const events = await world.log();
    const positionOf = (type: string): number => ofType(events, type)[0].position;
    const replays = headsAroundReplays(redelivering.reads, await world.store.headPosition());
    // Both successes, then the anomaly, each came round a second time...
    expect(replays.some(({ positions }) => positions.includes(positionOf('PaymentSucceeded')))).toBe(true);
    expect(replays.some(({ positions }) => positions.includes(positionOf('AnomalyDetected')))).toBe(true);
    // ... and while handling the repeat, nothing was appended.
    for (const replay of replays) expect(replay.after).toBe(replay.before);

    expect(head).toBe(events.length);
    expect(ofType(events, 'OrderPaid')).toHaveLength(1);
    expect(ofType(events, 'AnomalyDetected')).toHaveLength(1);
    expect(ofType(events, 'RefundRequested')).toHaveLength(1);
  });

  it('makes the refund executor call the channel and append nothing the second time', async () => {
    await world.paidTwice('ord_dup', 'pay_a', 'pay_b');
    // The process manager first, alone, so the executor's appends are the only ones while it runs.
    const manager = world.processManager();
    await manager.start();
    await settle(world.store, [manager]);
    await manager.stop();
    const requested = ofType(await world.log(), 'RefundRequested')[0].position;

    const redelivering = new RecordingLog(world.store, true);
    const executor = world.refundExecutor(redelivering);
    await executor.start();
    await settle(world.store, [executor]);
    await executor.stop();

    const replays = headsAroundReplays(redelivering.reads, await world.store.headPosition());
    expect(replays.some(({ positions }) => positions.includes(requested))).toBe(true);
    for (const replay of replays) expect(replay.after).toBe(replay.before);

    expect(world.refundCalls.map(({ refundId }) => refundId)).toEqual(['refund-pay_b']);
    expect(ofType(await world.log(), 'RefundSucceeded')).toHaveLength(1);
  });
});
