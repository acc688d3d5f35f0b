/**
 * The sandbox payment provider: its trades, refunds, misbehaviour switches and outgoing
 * notifications, kept in memory. Plain TypeScript so it can be driven directly; the
 * controller puts HTTP around it.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { DEFAULT_RETURN_URL_ORIGINS, LOOPBACK_ORIGINS, OriginList } from '../config/origins.js';
import { SANDBOX_SIGNATURE_HEADER, signSandboxBody } from './sandbox-signature.js';
import {
  capturedAmount,
  refundedAmount,
  SANDBOX_PROVIDERS,
  sameParams,
  SandboxGatewayError,
  tradeKey,
  type PayBlocker,
  type SandboxFaults,
  type SandboxProvider,
  type SandboxRefund,
  type SandboxTrade,
  type SandboxTradeParams,
  type SandboxTradeStatus,
} from './sandbox-trade.js';

export * from './sandbox-trade.js';

export interface SandboxGatewayOptions {
  /** Key of the notification signature. */
  readonly secret: string;
  /** Wait before a notification goes out, unless the faults say otherwise. */
  readonly notifyDelayMs: number;
  readonly now?: () => Date;
  readonly fetch?: typeof fetch;
  /**
   * Whether notifications may go to this notifyUrl, checked when a trade is created, so the
   * gateway can't be made to post to any address it can reach. Default: loopback only.
   */
  readonly notifyAllowed?: (url: string) => boolean;
  /**
   * Whether the payer may be sent back to this returnUrl after paying, so the provider's page is
   * no open redirect. Default: any https origin and loopback http.
   */
  readonly returnAllowed?: (url: string) => boolean;
  /** How many trades are kept; when full, the oldest final ones are forgotten. Default 10,000. */
  readonly maxTrades?: number;
}

export const DEFAULT_MAX_TRADES = 10_000;
/**
 * Most extra copies of a notification the duplicateNotifications fault may ask for: enough for a
 * storm (the notification e2e test sends 21 copies), not an amplifier (each copy is retried for an hour).
 */
export const MAX_DUPLICATE_NOTIFICATIONS = 20;
/** How long a trade past its timeExpire (or a paid one not fully refunded) is kept before it may be forgotten. */
const FORGET_AFTER_MS = 60 * 60 * 1000;

const defaultNotifyOrigins = OriginList.parse(LOOPBACK_ORIGINS);
const defaultReturnOrigins = OriginList.parse(DEFAULT_RETURN_URL_ORIGINS);

// Notification retries, as real providers do: 100 ms doubling to 10 s, for about an hour.
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 10_000;
const RETRY_GIVE_UP_AFTER_MS = 60 * 60 * 1000;
const DELIVERY_TIMEOUT_MS = 10_000;

export class SandboxGateway {
  private readonly trades = new Map<string, SandboxTrade>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly deliveries = new Set<AbortController>();
  private readonly stalls = new Set<() => void>();
  private readonly now: () => Date;
  private readonly fetch: typeof fetch;
  private readonly notifyAllowed: (url: string) => boolean;
  private readonly returnAllowed: (url: string) => boolean;
  private readonly maxTrades: number;
  private currentFaults: SandboxFaults = {};
  private stopped = false;

  constructor(private readonly options: SandboxGatewayOptions) {
    this.now = options.now ?? (() => new Date());
    this.fetch = options.fetch ?? globalThis.fetch;
    this.notifyAllowed = options.notifyAllowed ?? ((url) => defaultNotifyOrigins.allows(url));
    this.returnAllowed = options.returnAllowed ?? ((url) => defaultReturnOrigins.allows(url));
    this.maxTrades = options.maxTrades ?? DEFAULT_MAX_TRADES;
  }

  get faults(): Required<SandboxFaults> {
    return {
      notifyDelayMs: this.currentFaults.notifyDelayMs ?? this.options.notifyDelayMs,
      dropNotifications: this.currentFaults.dropNotifications ?? false,
      duplicateNotifications: this.currentFaults.duplicateNotifications ?? 0,
      apiDown: this.currentFaults.apiDown ?? false,
      ignoreTimeExpire: this.currentFaults.ignoreTimeExpire ?? false,
      captureAmountDelta: this.currentFaults.captureAmountDelta ?? 0,
      refundShortfall: this.currentFaults.refundShortfall ?? 0,
      createStallMs: this.currentFaults.createStallMs ?? 0,
    };
  }

  /** Replaces every fault: a field left out goes back to good behaviour. */
  setFaults(faults: SandboxFaults): void {
    this.currentFaults = { ...faults };
  }

  /**
   * Idempotent by outTradeNo: the same params give the same trade, other params a conflict. A
   * notifyUrl or returnUrl on an origin the gateway does not serve is refused before anything is kept.
   */
  createTrade(provider: SandboxProvider, params: SandboxTradeParams): { trade: SandboxTrade; created: boolean } {
    if (!this.notifyAllowed(params.notifyUrl)) {
      throw new SandboxGatewayError('NOTIFY_URL_NOT_ALLOWED', 'notifyUrl is not on an origin this gateway notifies');
    }
    if (!this.returnAllowed(params.returnUrl)) {
      throw new SandboxGatewayError('RETURN_URL_NOT_ALLOWED', 'returnUrl is not on an origin payers may be sent back to');
    }
    const existing = this.trades.get(tradeKey(provider, params.outTradeNo));
    if (existing) {
      if (!sameParams(existing, params)) {
        throw new SandboxGatewayError('TRADE_CONFLICT', 'outTradeNo already used with other parameters', existing);
      }
      return { trade: existing, created: false };
    }
    const trade: SandboxTrade = {
      ...params,
      provider,
      tradeNo: `${provider.toUpperCase()}${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      createdAt: this.now().toISOString(),
      status: 'WAIT_PAY',
      refunds: [],
    };
    this.makeRoom();
    this.trades.set(tradeKey(provider, params.outTradeNo), trade);
    return { trade, created: true };
  }

  /**
   * Waits as long as `createStallMs` says (read now), before create-trade answers; the trade is
   * stored already. Resolves at once on shutdown, so no request is left hanging.
   */
  async createStall(): Promise<void> {
    const delayMs = this.faults.createStallMs;
    if (delayMs === 0 || this.stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.stalls.delete(resolve);
        resolve();
      }, delayMs);
      this.timers.add(timer);
      this.stalls.add(resolve);
    });
  }

  queryTrade(provider: SandboxProvider, outTradeNo: string): SandboxTrade {
    this.failIfApiDown();
    return this.getTrade(provider, outTradeNo);
  }

  /** Every trade of one provider, oldest first: an observer's view for soak tests, so apiDown doesn't hide it. */
  listTrades(provider: SandboxProvider): SandboxTrade[] {
    return [...this.trades.values()].filter((trade) => trade.provider === provider);
  }

  /** Closing a paid trade is refused with the paid trade, so the merchant learns it was paid. */
  closeTrade(provider: SandboxProvider, outTradeNo: string): SandboxTrade {
    this.failIfApiDown();
    const trade = this.getTrade(provider, outTradeNo);
    if (trade.status === 'PAID') throw new SandboxGatewayError('TRADE_PAID', 'trade is paid', trade);
    if (trade.status === 'WAIT_PAY') {
      trade.status = 'CLOSED';
      trade.closedAt = this.now().toISOString();
    }
    return trade;
  }

  /**
   * Idempotent by outRequestNo (a repeat answers the earlier refund, compared by the amount asked);
   * refunds never add up to more than was captured.
   */
  refund(
    provider: SandboxProvider,
    outTradeNo: string,
    request: { outRequestNo: string; amount: number; currency?: string; reason?: string },
  ): SandboxRefund {
    this.failIfApiDown();
    const trade = this.getTrade(provider, outTradeNo);
    const earlier = trade.refunds.find((refund) => refund.outRequestNo === request.outRequestNo);
    if (earlier) {
      if (earlier.requestedAmount !== request.amount) {
        throw new SandboxGatewayError('REFUND_CONFLICT', 'outRequestNo already used with another amount', trade);
      }
      return earlier;
    }
    if (trade.status !== 'PAID') throw new SandboxGatewayError('TRADE_NOT_PAID', 'only a paid trade can be refunded', trade);
    if (request.currency !== undefined && request.currency !== trade.currency) {
      throw new SandboxGatewayError('REFUND_CURRENCY_MISMATCH', `trade is in ${trade.currency}`, trade);
    }
    if (refundedAmount(trade) + request.amount > capturedAmount(trade)) {
      throw new SandboxGatewayError('REFUND_AMOUNT_EXCEEDED', 'refunds would exceed the captured amount', trade);
    }
    const refund: SandboxRefund = {
      outRequestNo: request.outRequestNo,
      refundNo: `RF${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      amount: Math.max(1, request.amount - this.faults.refundShortfall),
      requestedAmount: request.amount,
      currency: trade.currency,
      reason: request.reason,
      refundedAt: this.now().toISOString(),
    };
    trade.refunds.push(refund);
    return refund;
  }

  /** The payer's side: paymentIds are unique across providers, so outTradeNo alone finds the trade. */
  findForPayer(outTradeNo: string): SandboxTrade | undefined {
    for (const provider of SANDBOX_PROVIDERS) {
      const trade = this.trades.get(tradeKey(provider, outTradeNo));
      if (trade) return trade;
    }
    return undefined;
  }

  /**
   * The token the payer's page puts in its form, so a form posted from another site (which can't
   * read the page) can't pay: an HMAC of the trade under the gateway's secret.
   */
  payFormToken(outTradeNo: string): string {
    return createHmac('sha256', this.options.secret).update(`pay-form|${outTradeNo}`).digest('base64url');
  }

  /** Whether `token` is the pay form's token of this trade (compared in constant time). */
  isPayFormToken(outTradeNo: string, token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const expected = Buffer.from(this.payFormToken(outTradeNo));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** What the provider reports: a waiting trade past its timeExpire has been closed by the provider. */
  statusOf(trade: SandboxTrade): SandboxTradeStatus {
    return trade.status === 'WAIT_PAY' && this.isExpired(trade) ? 'CLOSED' : trade.status;
  }

  payBlocker(trade: SandboxTrade): PayBlocker | undefined {
    if (trade.status === 'PAID') return 'paid';
    if (trade.status === 'FAILED') return 'failed';
    if (this.faults.ignoreTimeExpire) return undefined;
    if (trade.status === 'CLOSED') return 'closed';
    return this.isExpired(trade) ? 'expired' : undefined;
  }

  /**
   * The payer pays (or the payment fails). Paying a paid trade charges nothing new and
   * sends nothing new; every other refusal is TRADE_NOT_PAYABLE.
   */
  pay(outTradeNo: string, outcome: 'success' | 'fail' = 'success'): SandboxTrade {
    const trade = this.findForPayer(outTradeNo);
    if (!trade) throw new SandboxGatewayError('TRADE_NOT_FOUND', 'no such trade');
    const blocker = this.payBlocker(trade);
    if (blocker === 'paid') return trade;
    if (blocker) throw new SandboxGatewayError('TRADE_NOT_PAYABLE', `trade is ${blocker}`, trade);

    if (outcome === 'fail') {
      trade.status = 'FAILED';
      trade.failReason = 'PAYER_DECLINED';
    } else {
      const captured = trade.amount + this.faults.captureAmountDelta;
      trade.status = 'PAID';
      trade.paidAt = this.now().toISOString();
      trade.capturedAmount = captured > 0 ? captured : trade.amount;
    }
    this.notify(trade);
    return trade;
  }

  /** Stops every pending and in-flight notification, so nothing is left running. */
  shutdown(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const delivery of this.deliveries) delivery.abort();
    this.deliveries.clear();
    for (const release of this.stalls) release();
    this.stalls.clear();
  }

  private getTrade(provider: SandboxProvider, outTradeNo: string): SandboxTrade {
    const trade = this.trades.get(tradeKey(provider, outTradeNo));
    if (!trade) throw new SandboxGatewayError('TRADE_NOT_FOUND', 'no such trade');
    return trade;
  }

  /** At the bound, forgets the oldest final trade; none final: SANDBOX_FULL (nothing is kept). */
  private makeRoom(): void {
    if (this.trades.size < this.maxTrades) return;
    const now = this.now().getTime();
    // A Map iterates in insertion order: oldest first.
    for (const [key, trade] of this.trades) {
      if (this.isForgettable(trade, now)) {
        this.trades.delete(key);
        return;
      }
    }
    throw new SandboxGatewayError('SANDBOX_FULL', `the gateway keeps at most ${this.maxTrades} trades and none of them is final`);
  }

  /**
   * Final enough to forget: closed or failed; waiting but more than an hour past its timeExpire;
   * paid and fully refunded, or paid more than an hour ago (time for the merchant's refund of a
   * duplicate to have been made).
   */
  private isForgettable(trade: SandboxTrade, now: number): boolean {
    switch (trade.status) {
      case 'CLOSED':
      case 'FAILED':
        return true;
      case 'WAIT_PAY':
        return now > Date.parse(trade.timeExpire) + FORGET_AFTER_MS;
      case 'PAID':
        return refundedAmount(trade) >= capturedAmount(trade) || now > Date.parse(trade.paidAt ?? trade.createdAt) + FORGET_AFTER_MS;
    }
  }

  private failIfApiDown(): void {
    if (this.faults.apiDown) throw new SandboxGatewayError('API_DOWN', 'service unavailable');
  }

  private isExpired(trade: SandboxTrade): boolean {
    return this.now().getTime() > Date.parse(trade.timeExpire);
  }

  /** Faults are read now, when the outcome happens: later fault changes don't recall it. */
  private notify(trade: SandboxTrade): void {
    const faults = this.faults;
    if (faults.dropNotifications) return;
    const body = JSON.stringify({
      notificationId: randomUUID(),
      paymentId: trade.outTradeNo,
      status: trade.status === 'PAID' ? 'succeeded' : 'failed',
      amount: trade.status === 'PAID' ? capturedAmount(trade) : trade.amount,
      currency: trade.currency,
      channelTradeNo: trade.tradeNo,
      occurredAt: this.now().toISOString(),
    });
    // Each copy is delivered on its own, as a provider with a sloppy queue would.
    for (let copy = 0; copy <= faults.duplicateNotifications; copy++) {
      this.later(faults.notifyDelayMs, () => this.deliver(trade.notifyUrl, body, 0, 0));
    }
  }

  private async deliver(url: string, body: string, attempt: number, waitedMs: number): Promise<void> {
    if (await this.post(url, body)) return;
    const delay = Math.min(RETRY_INITIAL_MS * 2 ** attempt, RETRY_MAX_MS);
    if (waitedMs + delay > RETRY_GIVE_UP_AFTER_MS) return;
    this.later(delay, () => this.deliver(url, body, attempt + 1, waitedMs + delay));
  }

  /** One delivery attempt; true on a 2xx. Signed afresh, so a late retry is within tolerance. */
  private async post(url: string, body: string): Promise<boolean> {
    if (this.stopped) return false;
    const delivery = new AbortController();
    this.deliveries.add(delivery);
    try {
      const response = await this.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(this.options.secret, body, this.now()),
        },
        body,
        // A redirect is not followed: the gateway posts only to the origins it allows.
        redirect: 'manual',
        signal: AbortSignal.any([delivery.signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)]),
      });
      // The merchant's answer body is not read; cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      return response.ok;
    } catch {
      return false; // unreachable, timed out or aborted: retried like a non-2xx
    } finally {
      this.deliveries.delete(delivery);
    }
  }

  private later(delayMs: number, task: () => Promise<void>): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void task();
    }, delayMs);
    this.timers.add(timer);
  }
}
