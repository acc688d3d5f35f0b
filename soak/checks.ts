/**
 * What the soak checks at the end: the provider's trades (where the money is) against what the
 * service says about every order. Pure functions over one snapshot.
 */

export interface ProviderRefund {
  readonly outRequestNo: string;
  readonly amount: number;
  readonly requestedAmount?: number;
}

export interface ProviderTrade {
  readonly provider: string;
  readonly outTradeNo: string;
  readonly status: 'WAIT_PAY' | 'PAID' | 'CLOSED' | 'FAILED';
  readonly amount: number;
  readonly capturedAmount?: number;
  readonly refundedAmount: number;
  readonly refunds: readonly ProviderRefund[];
  readonly timeExpire: string;
  readonly paidAt?: string;
  readonly closedAt?: string;
}

export interface OrderView {
  readonly orderId: string;
  readonly status: 'pending' | 'paid' | 'expired' | 'closed';
  readonly amount: number;
  readonly expiresAt: string;
  readonly paidBy?: string;
  readonly payments: readonly { paymentId: string; status: string; channel: string; amount: number }[];
  readonly refunds: readonly { refundId: string; paymentId: string; status: string; amount: number; reason: string; lastError?: string }[];
  readonly anomalies: readonly { kind: string; paymentId: string }[];
}

export interface Snapshot {
  /** Every order id the payers tried to place: its view, or null when the service never placed it (404). */
  readonly orders: ReadonlyMap<string, OrderView | null>;
  readonly trades: readonly ProviderTrade[];
  readonly now: number;
}

export interface Violation {
  readonly kind: string;
  readonly orderId?: string;
  readonly paymentId?: string;
  readonly detail: string;
}

/** Seconds an order may stay pending after its expiresAt before that is a violation. */
export const PENDING_SLACK_MS = 5000;

export const captured = (trade: ProviderTrade): number => trade.capturedAmount ?? trade.amount;

const ENDED = new Set(['paid', 'expired', 'closed']);

function tradesByPayment(trades: readonly ProviderTrade[]): Map<string, ProviderTrade> {
  return new Map(trades.map((trade) => [trade.outTradeNo, trade]));
}

function brief(trade: ProviderTrade): string {
  return (
    `${trade.provider}:${trade.outTradeNo} ${trade.status} amount=${trade.amount}` +
    (trade.capturedAmount !== undefined && trade.capturedAmount !== trade.amount ? ` captured=${trade.capturedAmount}` : '') +
    ` refunded=${trade.refundedAmount} refunds=${trade.refunds.length} timeExpire=${trade.timeExpire}` +
    (trade.paidAt ? ` paidAt=${trade.paidAt}` : '')
  );
}

/** The trade the service lets the order keep: its paidBy, when the order is paid. */
function keptBy(order: OrderView | undefined | null): string | undefined {
  return order?.status === 'paid' ? order.paidBy : undefined;
}

/**
 * Work still under way: what keeps the soak waiting before it judges. Empty once every order is
 * final, no payment or refund is open, and every paid trade is either kept by its order or refunded.
 */
export function openWork(snapshot: Snapshot): string[] {
  const open: string[] = [];
  const orderOfPayment = new Map<string, OrderView>();
  for (const [orderId, order] of snapshot.orders) {
    if (order === null) continue;
    if (order.status === 'pending') open.push(`order ${orderId} pending`);
    for (const payment of order.payments) {
      orderOfPayment.set(payment.paymentId, order);
      if (payment.status === 'pending') open.push(`payment ${payment.paymentId} pending`);
    }
    for (const refund of order.refunds) if (refund.status === 'requested') open.push(`refund ${refund.refundId} requested`);
  }
  for (const trade of snapshot.trades) {
    const order = orderOfPayment.get(trade.outTradeNo);
    if (trade.status === 'PAID' && trade.refunds.length === 0 && keptBy(order) !== trade.outTradeNo) {
      open.push(`trade ${trade.outTradeNo} PAID, neither kept nor refunded`);
    }
    if (trade.status === 'WAIT_PAY' && order !== undefined && ENDED.has(order.status)) {
      open.push(`trade ${trade.outTradeNo} WAIT_PAY on ${order.status} order`);
    }
  }
  return open;
}

export function violationsOf(snapshot: Snapshot): Violation[] {
  const violations: Violation[] = [];
  const trades = tradesByPayment(snapshot.trades);
  const known = new Set<string>();

  for (const [orderId, order] of snapshot.orders) {
    if (order === null) continue;
    for (const payment of order.payments) known.add(payment.paymentId);
    const add = (kind: string, detail: string, paymentId?: string): void => {
      violations.push({ kind, orderId, ...(paymentId !== undefined && { paymentId }), detail: `order ${orderId} (${order.status}, amount ${order.amount}): ${detail}` });
    };

    if (order.status === 'pending' && snapshot.now > Date.parse(order.expiresAt) + PENDING_SLACK_MS) {
      add('pending-past-expiry', `still pending ${Math.round((snapshot.now - Date.parse(order.expiresAt)) / 1000)} s after expiresAt ${order.expiresAt}`);
    }

    const orderTrades = order.payments.flatMap((payment) => {
      const trade = trades.get(payment.paymentId);
      return trade ? [{ payment, trade }] : [];
    });
    for (const { payment, trade } of orderTrades) {
      if (trade.amount !== order.amount) add('trade-amount-differs', `trade asks ${trade.amount}: ${brief(trade)}`, payment.paymentId);
      if (payment.status === 'succeeded' && trade.status !== 'PAID') {
        add('succeeded-but-not-paid', `the service says succeeded, the provider: ${brief(trade)}`, payment.paymentId);
      }
    }
    const paidTrades = orderTrades.filter(({ trade }) => trade.status === 'PAID').map(({ trade }) => trade);

    let keeper: string | undefined;
    if (order.status === 'paid') {
      const keeping = paidTrades.filter((trade) => trade.refundedAmount === 0);
      if (order.paidBy === undefined) add('paid-without-paidBy', 'paid, but names no paidBy');
      const paidByTrade = order.paidBy === undefined ? undefined : trades.get(order.paidBy);
      if (order.paidBy !== undefined && paidByTrade?.status !== 'PAID') {
        add('paidBy-not-paid', `paidBy ${order.paidBy} is not PAID at the provider: ${paidByTrade ? brief(paidByTrade) : 'no trade'}`, order.paidBy);
      }
      if (keeping.length !== 1) {
        add('paid-order-keeps-' + (keeping.length === 0 ? 'nothing' : 'several'), `${keeping.length} PAID trades keep money: ${keeping.map(brief).join('; ') || 'none'}`);
      } else if (keeping[0].outTradeNo !== order.paidBy) {
        add('kept-trade-not-paidBy', `the trade keeping money is ${brief(keeping[0])}, paidBy is ${order.paidBy}`, keeping[0].outTradeNo);
      }
      if (paidByTrade !== undefined && paidByTrade.status === 'PAID' && captured(paidByTrade) !== order.amount) {
        add('paid-by-mismatched-capture', `the order is paid by a capture of ${captured(paidByTrade)}: ${brief(paidByTrade)}`, order.paidBy);
      }
      keeper = order.paidBy;
    }

    // Every PAID trade but the one the paid order keeps: refunded in full, exactly once.
    for (const trade of paidTrades) {
      if (trade.outTradeNo === keeper) {
        if (trade.refunds.length > 0) add('kept-trade-refunded', `the order's paidBy was refunded: ${brief(trade)}`, trade.outTradeNo);
        continue;
      }
      if (trade.refunds.length !== 1 || trade.refundedAmount !== captured(trade)) {
        const kind = trade.refunds.length === 0 ? 'money-kept' : trade.refunds.length > 1 ? 'refunded-more-than-once' : 'refund-not-in-full';
        add(kind, `a PAID trade it must not keep: ${brief(trade)}`, trade.outTradeNo);
      }
    }

    if (ENDED.has(order.status)) {
      for (const { trade } of orderTrades) {
        if (trade.status === 'WAIT_PAY') add('open-trade-on-ended-order', `still payable at the provider: ${brief(trade)}`, trade.outTradeNo);
      }
    }

    for (const refund of order.refunds) {
      if (refund.status === 'requested') add('refund-unsettled', `refund ${refund.refundId} still requested (${refund.reason}) ${refund.lastError ?? ''}`, refund.paymentId);
      if (refund.status === 'failed') add('refund-failed', `refund ${refund.refundId} failed (${refund.reason}): ${refund.lastError ?? ''}`, refund.paymentId);
      const trade = trades.get(refund.paymentId);
      if (refund.status === 'succeeded' && !trade?.refunds.some((done) => done.outRequestNo === refund.refundId)) {
        add('refund-not-at-provider', `refund ${refund.refundId} succeeded in the service, the provider: ${trade ? brief(trade) : 'no trade'}`, refund.paymentId);
      }
    }
  }

  for (const trade of snapshot.trades) {
    if (!known.has(trade.outTradeNo)) {
      violations.push({ kind: 'orphan-trade', paymentId: trade.outTradeNo, detail: `no order of the service knows ${brief(trade)}` });
    }
  }
  return violations;
}
