import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { PlacedOrderState } from '../../domain/order/order.decider.js';
import { OrderNotPayable } from '../../domain/order/order.errors.js';
import type { OrderStatus } from '../../domain/order/order.events.js';
import type { InitiatedPaymentState, PaymentState } from '../../domain/payment/payment.decider.js';
import type { PaymentStatus } from '../../domain/payment/payment.events.js';
import type { Causation } from '../event-sourcing/aggregate-repository.js';
import { InvalidRequest, NotFound } from '../shared/errors.js';
import { StartPaymentCommand } from '../payments/start-payment.handler.js';
import { SyncPaymentCommand } from '../payments/sync-payment.handler.js';
import { CHANNEL_REGISTRY, type ChannelRegistry } from '../ports/channel-registry.port.js';
import { ChannelUnavailableError } from '../ports/channel.port.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { RETURN_URL_POLICY, type ReturnUrlPolicy } from '../ports/return-url-policy.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import { checkout, type CheckoutAction } from '../queries/checkout.js';
import { OrderReader } from '../queries/order-reader.js';
import { TradeCloser } from '../trades/trade-closer.js';
import { OPEN_VIEWER, type Viewer } from '../shared/viewer.js';
import {
  CHECKOUT_OPTIONS,
  CHECKOUT_TOKENS,
  type CheckoutLocale,
  type CheckoutOptions,
  type CheckoutSessionClaims,
  type CheckoutTokens,
} from './checkout-tokens.port.js';

/** What the hosted page (or a shop's page with guard.js) needs before it shows anything. */
export interface CheckoutState {
  readonly orderId: string;
  readonly action: CheckoutAction;
  /** As GET /orders/{id}/checkout says it: `paid` once a success is recorded, `expired` past expiresAt. */
  readonly status: OrderStatus;
  readonly remainingSeconds: number;
  readonly expiresAt: string;
  readonly amount: number;
  readonly currency: string;
  readonly description: string | null;
  /** Below this many seconds left, no payment can start (PAYMENT_MIN_VALIDITY_SECONDS). */
  readonly minValiditySeconds: number;
  /** The channels the payer may choose, in the registry's order. */
  readonly channels: readonly string[];
  /** The attempt in flight (confirm-previous-attempt), or the paying payment (show-result). */
  readonly payment: CheckoutPayment | null;
  /** The latest attempt when it failed or was closed, so the page can say "declined" (pay only). */
  readonly lastAttempt: CheckoutPayment | null;
  /** Money of this order that is being given back (a late or second payment). */
  readonly refund: 'none' | 'pending' | 'refunded';
  readonly returnUrl: string | null;
  /** The shop's choice of language for the payer (null: the payer's browser decides). */
  readonly locale: CheckoutLocale | null;
  /** When this session ends (the order's end plus the grace, at the latest its expiresAt plus the grace). */
  readonly sessionExpiresAt: string;
}

export interface CheckoutPayment {
  readonly paymentId: string;
  readonly channel: string;
  readonly status: PaymentStatus;
}

/** A payment started from a session: where the payer goes now, in the same window. */
export interface StartedCheckoutPayment extends CheckoutPayment {
  readonly payUrl: string;
  /** False when an open attempt on this channel was reused (a retry cannot charge twice). */
  readonly created: boolean;
}

/** Where the channel sends the payer back: this checkout page (default), or the shop's returnUrl (guard.js). */
export type ReturnTo = 'checkout' | 'shop';

/** A token that is authentic but whose session is over (the order ended more than the grace ago). */
export class CheckoutSessionEnded extends NotFound {
  constructor() {
    super('this checkout session has ended');
    this.name = 'CheckoutSessionEnded';
  }
}

interface Session {
  readonly token: string;
  readonly claims: CheckoutSessionClaims;
  readonly order: PlacedOrderState;
  /** Whom the payer acts for: the merchant that opened the session, as its key would. */
  readonly viewer: Viewer;
}

/**
 * Hosted checkout sessions: a payer holding a session's token may see its order's state, start
 * paying it, and have an attempt in flight synced with its channel. Nothing else: the token is
 * bound to one order of one merchant, and ends with the order (plus a grace to show the result).
 *
 * Sessions are not stored: the token carries them, signed (see CheckoutTokens). A session is not a
 * business fact worth keeping in the log for ever, every request loads the order anyway (its end
 * is what ends the session, so nothing needs revoking), and a token works on every instance that
 * shares the secret. The price: one session cannot be revoked alone before its order ends. A
 * recorded session (a table in every store adapter, or events) would buy that revocation and
 * nothing the payer needs. A payment started here records the checkout page, token included, as
 * its returnUrl: a capability kept in the log, but one that dies with the session and names
 * nothing secret (the order, the merchant, the shop's page).
 */
@Injectable()
export class CheckoutSessions {
  /** Starts from one session are taken in turn per order (two tabs, a double click): the second sees the first's attempt. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly commands: CommandBus,
    private readonly reader: OrderReader,
    private readonly trades: TradeCloser,
    @Inject(CHECKOUT_TOKENS) private readonly tokens: CheckoutTokens,
    @Inject(CHECKOUT_OPTIONS) private readonly options: CheckoutOptions,
    @Inject(CHANNEL_REGISTRY) private readonly channels: ChannelRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(SETTINGS) private readonly settings: PayguardSettings,
    @Inject(RETURN_URL_POLICY) private readonly returnUrls: ReturnUrlPolicy,
  ) {}

  /** Opens a session on the viewer's order: its page's URL and when it ends at the latest. */
  async open(orderId: string, viewer: Viewer, request: { returnUrl: string | null; locale: CheckoutLocale | null }): Promise<{ url: string; expiresAt: string }> {
    const { returnUrl, locale } = request;
    // The payer is sent there: the same origin rule as a payment's returnUrl, never an open redirect.
    if (returnUrl !== null && !this.returnUrls.allows(returnUrl)) {
      throw new InvalidRequest([{ field: 'returnUrl', message: 'returnUrl is not on an origin payers may be sent back to (RETURN_URL_ORIGINS)' }]);
    }
    const { key, order } = await this.reader.located(orderId, viewer);
    const { merchantId, orderId: id, expiresAt } = order.placed;
    // Whole seconds: what the token can carry.
    const hardEnd = new Date(Math.floor((Date.parse(expiresAt) + this.options.graceSeconds * 1000) / 1000) * 1000).toISOString();
    const claims: CheckoutSessionClaims = { orderKey: key, merchantId, orderId: id, returnUrl, locale, expiresAt: hardEnd };
    const end = this.endOf(claims, order);
    // An order that ended longer than the grace ago has nothing left to show a payer.
    if (end <= this.clock.now().getTime()) throw new OrderNotPayable(id, order.status);
    return { url: this.urlOf(this.tokens.issue(claims)), expiresAt: new Date(end).toISOString() };
  }

  /** The order's state as the page acts on it. */
  async state(token: string): Promise<CheckoutState> {
    return this.stateOf(await this.session(token));
  }

  /**
   * Starts paying on a channel (or reuses the open attempt there) and gives the page the channel's
   * URL. An attempt in flight on another channel is closed at its provider first: the payer chose
   * another way to pay, and the first trade must not stay payable. A close the provider cannot
   * confirm refuses the start (503); one that finds the trade paid refuses it too (409 paid).
   */
  async pay(token: string, request: { channel: string; returnTo: ReturnTo; payerIp: string | null }, correlationId: string): Promise<StartedCheckoutPayment> {
    const first = await this.session(token);
    return this.inTurn(first.claims.orderKey, async () => {
      const session = await this.session(token);
      const { orderId } = session.claims;
      const channel = this.channels.get(request.channel);
      if (channel === undefined) {
        throw new InvalidRequest([{ field: 'channel', message: `unknown channel; offered: ${this.channels.ids().join(', ')}` }]);
      }
      const view = checkout(session.order, await this.reader.paymentsOf(session.order), this.clock.now());
      if (view.action === 'show-result') throw new OrderNotPayable(orderId, view.status);
      const causation: Causation = { correlationId, causationId: null };
      await this.closeAttemptsOtherThan(session, channel.id, causation);
      const returnUrl = request.returnTo === 'shop' && session.claims.returnUrl !== null ? session.claims.returnUrl : this.urlOf(token);
      const command = new StartPaymentCommand(orderId, channel.id, returnUrl, session.viewer, correlationId, request.payerIp);
      const { created, payment } = await this.commands.execute(command);
      if (payment.payUrl === null) throw new ChannelUnavailableError(channel.id, 'the provider has not opened the payment yet; try again');
      return { paymentId: payment.paymentId, channel: payment.channel, status: payment.status, payUrl: payment.payUrl, created };
    });
  }

  /**
   * "Yes, I have paid": asks the channel of every attempt still pending (a notification may be
   * late or lost) and records what it says, then answers the state. Fails (503) only when no
   * provider could be reached at all.
   */
  async confirm(token: string, correlationId: string): Promise<CheckoutState> {
    const session = await this.session(token);
    const payments = await this.reader.paymentsOf(session.order);
    const pending = payments.filter((payment): payment is InitiatedPaymentState => payment.status === 'pending');
    const synced = await Promise.allSettled(
      pending.map((payment) => this.commands.execute(new SyncPaymentCommand(payment.initiated.paymentId, session.viewer, correlationId))),
    );
    // No provider could be reached: say so (503). Any other failure leaves the state as it was recorded.
    const failures = synced.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (pending.length > 0 && failures.length === pending.length && failures.every((failure) => failure.reason instanceof ChannelUnavailableError)) {
      throw failures[0].reason;
    }
    return this.stateOf(await this.session(token));
  }

  /** The session of a token, with its order as just read; NotFound for a token not issued here or a session that ended. */
  private async session(token: string): Promise<Session> {
    const claims = this.tokens.read(token);
    if (claims === null) throw new NotFound('unknown checkout session');
    let order: PlacedOrderState;
    try {
      order = await this.reader.byKey(claims.orderKey);
    } catch {
      throw new NotFound('unknown checkout session');
    }
    // The key says where the order is; its OrderPlaced must still say it is this merchant's order.
    if (order.placed.merchantId !== claims.merchantId || order.placed.orderId !== claims.orderId) throw new NotFound('unknown checkout session');
    if (this.endOf(claims, order) <= this.clock.now().getTime()) throw new CheckoutSessionEnded();
    const viewer: Viewer = claims.merchantId === null ? OPEN_VIEWER : { kind: 'merchant', merchantId: claims.merchantId };
    return { token, claims, order, viewer };
  }

  /** When a session ends: the order's end plus the grace, and never after the token's own hard end. */
  private endOf(claims: CheckoutSessionClaims, order: PlacedOrderState): number {
    const hardEnd = Date.parse(claims.expiresAt);
    if (order.endedAt === null) return hardEnd;
    return Math.min(hardEnd, Date.parse(order.endedAt) + this.options.graceSeconds * 1000);
  }

  private async stateOf(session: Session): Promise<CheckoutState> {
    const { order, claims } = session;
    const payments = await this.reader.paymentsOf(order);
    const view = checkout(order, payments, this.clock.now());
    const { amount, currency, description, expiresAt } = order.placed;
    const latest = payments.at(-1);
    // A declined or cancelled last attempt is worth a word on the page before the payer tries again.
    const ended = latest !== undefined && latest.status !== 'none' && (latest.status === 'failed' || latest.status === 'closed') ? latest : undefined;
    const lastAttempt = view.action === 'pay' && ended !== undefined ? paymentOf(ended) : null;
    return {
      orderId: order.placed.orderId,
      action: view.action,
      status: view.status,
      remainingSeconds: view.remainingSeconds,
      expiresAt,
      amount,
      currency,
      description,
      minValiditySeconds: this.settings.paymentMinValiditySeconds,
      channels: this.channels.ids().filter((id) => this.channels.get(id)?.currencies?.includes(currency) ?? true),
      payment: view.payment === undefined ? null : { paymentId: view.payment.paymentId, channel: view.payment.channel, status: view.payment.status },
      lastAttempt,
      refund: refundOf(payments),
      returnUrl: claims.returnUrl,
      locale: claims.locale,
      sessionExpiresAt: new Date(this.endOf(claims, order)).toISOString(),
    };
  }

  /** Closes the trades in flight on other channels than the one chosen; throws when one cannot be closed for sure. */
  private async closeAttemptsOtherThan(session: Session, channelId: string, causation: Causation): Promise<void> {
    const payments = await this.reader.paymentsOf(session.order);
    const others = session.order.attempts.filter((attempt, index) => {
      const status = payments[index].status;
      return attempt.channel !== channelId && (status === 'pending' || status === 'none');
    });
    for (const attempt of others) {
      const outcome = await this.trades.close(session.claims.orderKey, attempt.paymentId, causation);
      // The payer had paid it after all: the order is (being) paid, and nothing more may start.
      if (outcome === 'paid') throw new OrderNotPayable(session.claims.orderId, 'paid');
      if (outcome === 'open') {
        throw new ChannelUnavailableError(attempt.channel, 'the payment started there could not be cancelled yet; try again, or complete that payment');
      }
    }
  }

  private urlOf(token: string): string {
    return `${this.settings.publicBaseUrl}/checkout/${token}`;
  }

  private async inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    }
  }
}

function paymentOf(payment: InitiatedPaymentState): CheckoutPayment {
  return { paymentId: payment.initiated.paymentId, channel: payment.initiated.channel, status: payment.status };
}

function refundOf(payments: readonly PaymentState[]): CheckoutState['refund'] {
  const refunds = payments.flatMap((payment) => (payment.status !== 'none' && payment.refund !== null ? [payment.refund] : []));
  if (refunds.length === 0) return 'none';
  return refunds.every((refund) => refund.status === 'succeeded') ? 'refunded' : 'pending';
}
