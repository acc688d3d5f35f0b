/**
 * HTTP around the sandbox provider: its merchant API, the payer's page and the fault switches.
 * Bodies are validated here by hand, not by a global ValidationPipe, because this module is
 * mounted into the main app and also runs alone; every answer is written explicitly so the
 * main app's exception filters can't reshape the provider's responses.
 */
import { Body, Controller, Get, Inject, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { headerOf, withCharset, type HttpReply, type HttpRequest } from '../http/http-types.js';
import {
  MAX_DUPLICATE_NOTIFICATIONS,
  SANDBOX_PROVIDERS,
  SandboxGateway,
  SandboxGatewayError,
  refundedAmount,
  type SandboxErrorCode,
  type SandboxFaults,
  type SandboxProvider,
  type SandboxTrade,
  type SandboxTradeParams,
} from './sandbox-gateway.js';
import type { FieldError } from '../../application/shared/errors.js';
import {
  escapeHtml,
  formatMoney,
  html,
  page,
  PAY_PAGE_CSS,
  PAY_PAGE_TEXT,
  payerLocale,
  unknownPaymentPage,
  type PayerLocale,
  type Reply,
} from './sandbox-pay-page.js';
import { SandboxDocs } from './sandbox.openapi.js';

/**
 * Where payers reach the gateway (`.../sandbox`): a URL, or a function read at each trade (the
 * in-process gateway's is PUBLIC_BASE_URL's, known once the service listens); derived from each
 * request when unset (the gateway run alone).
 */
export interface SandboxHttpOptions {
  readonly publicUrl?: string | (() => string);
}
export const SANDBOX_HTTP_OPTIONS = Symbol('SandboxHttpOptions');

const PROBLEM_BASE = 'https://payguard.dev/problems/';


/** An answer that is an RFC 9457 problem. */
class Problem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}


@ApiTags('sandbox')
@Controller('sandbox')
export class SandboxController {
  constructor(
    private readonly gateway: SandboxGateway,
    @Inject(SANDBOX_HTTP_OPTIONS) private readonly options: SandboxHttpOptions,
  ) {}

  /** Under `createStallMs` the trade is stored before the wait: a merchant that gives up has still opened it. */
  @Post('api/:provider/trades')
  @SandboxDocs.createTrade()
  createTrade(@Param('provider') provider: string, @Body() body: unknown, @Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    return this.send(res, async () => {
      const params = readBody<SandboxTradeParams>(body, {
        outTradeNo: { check: isId },
        amount: { check: isAmount },
        currency: { check: isCurrency },
        timeExpire: { check: isTime },
        notifyUrl: { check: isHttpUrl },
        returnUrl: { check: isHttpUrl },
        subject: { check: isText(256), optional: true },
      });
      const { trade, created } = this.gateway.createTrade(providerOf(provider), params);
      await this.gateway.createStall();
      const payUrl = `${this.publicUrl(req)}/pay/${encodeURIComponent(trade.outTradeNo)}`;
      return { status: created ? 201 : 200, body: { ...this.view(trade), payUrl } };
    });
  }

  /** Every trade this provider holds, so a soak test can account for each one. */
  @Get('api/:provider/trades')
  @SandboxDocs.listTrades()
  listTrades(@Param('provider') provider: string, @Res() res: HttpReply): Promise<void> {
    return this.send(res, () => {
      const trades = this.gateway.listTrades(providerOf(provider)).map((trade) => this.view(trade));
      return { status: 200, body: { trades } };
    });
  }

  @Get('api/:provider/trades/:outTradeNo')
  @SandboxDocs.queryTrade()
  queryTrade(@Param('provider') provider: string, @Param('outTradeNo') outTradeNo: string, @Res() res: HttpReply): Promise<void> {
    return this.send(res, () => {
      const trade = this.gateway.queryTrade(providerOf(provider), outTradeNo);
      return { status: 200, body: this.view(trade) };
    });
  }

  @Post('api/:provider/trades/:outTradeNo/close')
  @SandboxDocs.closeTrade()
  closeTrade(@Param('provider') provider: string, @Param('outTradeNo') outTradeNo: string, @Res() res: HttpReply): Promise<void> {
    return this.send(res, () => {
      const trade = this.gateway.closeTrade(providerOf(provider), outTradeNo);
      return { status: 200, body: this.view(trade) };
    });
  }

  @Post('api/:provider/trades/:outTradeNo/refunds')
  @SandboxDocs.refund()
  refund(
    @Param('provider') provider: string,
    @Param('outTradeNo') outTradeNo: string,
    @Body() body: unknown,
    @Res() res: HttpReply,
  ): Promise<void> {
    return this.send(res, () => {
      const request = readBody<{ outRequestNo: string; amount: number; currency?: string; reason?: string }>(body, {
        outRequestNo: { check: isId },
        amount: { check: isAmount },
        currency: { check: isCurrency, optional: true },
        reason: { check: isText(256), optional: true },
      });
      // `amount` is what was paid back (it may be less than asked), in `currency`.
      const refund = this.gateway.refund(providerOf(provider), outTradeNo, request);
      return { status: 200, body: { ...refund, outTradeNo, status: 'SUCCESS' } };
    });
  }

  @Get('pay/:paymentId')
  @SandboxDocs.payPage()
  payPage(@Param('paymentId') paymentId: string, @Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    const trade = this.gateway.findForPayer(paymentId);
    const locale = payerLocale(req);
    return this.send(res, () => (trade ? html(200, this.payPageOf(trade, locale)) : unknownPaymentPage(locale)));
  }

  /** The pay page's stylesheet: the page has no style block, so it works under `style-src 'self'`. */
  @Get('assets/pay.css')
  @SandboxDocs.payPageStyles()
  payPageStyles(@Res() res: HttpReply): void {
    res.status(200).type(withCharset('text/css')).header('Cache-Control', 'public, max-age=300').send(PAY_PAGE_CSS);
  }

  /**
   * JSON for programs (`Accept: application/json`), a redirect back to the merchant for browsers.
   * A post must be JSON (which another site's page can't send without a CORS preflight, and the
   * gateway grants none) or carry the pay form's token (which only the page shows): a page on
   * another site can't make the payer pay.
   */
  @Post('pay/:paymentId')
  @SandboxDocs.pay()
  pay(@Param('paymentId') paymentId: string, @Body() body: unknown, @Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    const wantsJson = (headerOf(req, 'accept') ?? '').includes('application/json');
    return this.send(res, () => {
      // A form post without a body arrives as undefined; it means "pay".
      const { outcome, csrf } = readBody<{ outcome?: 'success' | 'fail'; csrf?: string }>(body ?? {}, {
        outcome: { check: oneOf('success', 'fail'), optional: true },
        csrf: { check: isText(128), optional: true },
      });
      if (this.gateway.findForPayer(paymentId) !== undefined && !/^application\/json\s*(;|$)/i.test(headerOf(req, 'content-type') ?? '') && !this.gateway.isPayFormToken(paymentId, csrf)) {
        throw new Problem(403, 'sandbox-forbidden', 'Not from the pay page', 'post JSON, or the form of the pay page with its token');
      }
      try {
        const trade = this.gateway.pay(paymentId, outcome);
        if (wantsJson) return { status: 200, body: this.view(trade) };
        return { status: 303, body: '', type: 'text/html', location: trade.returnUrl };
      } catch (error) {
        if (wantsJson || !(error instanceof SandboxGatewayError)) throw error;
        return error.trade ? html(409, this.payPageOf(error.trade, payerLocale(req))) : unknownPaymentPage(payerLocale(req));
      }
    });
  }

  /** Replaces all faults; `{}` restores good behaviour. */
  @Put('faults')
  @SandboxDocs.setFaults()
  setFaults(@Body() body: unknown, @Res() res: HttpReply): Promise<void> {
    return this.send(res, () => {
      const faults = readBody<SandboxFaults>(body, {
        notifyDelayMs: { check: isCount(3_600_000), optional: true },
        dropNotifications: { check: isBoolean, optional: true },
        duplicateNotifications: { check: isCount(MAX_DUPLICATE_NOTIFICATIONS), optional: true },
        apiDown: { check: isBoolean, optional: true },
        ignoreTimeExpire: { check: isBoolean, optional: true },
        captureAmountDelta: { check: isSignedInteger(MAX_AMOUNT_DELTA), optional: true },
        refundShortfall: { check: isCount(MAX_AMOUNT_DELTA), optional: true },
        createStallMs: { check: isCount(600_000), optional: true },
      });
      this.gateway.setFaults(faults);
      return { status: 200, body: this.gateway.faults };
    });
  }

  @Get('faults')
  @SandboxDocs.getFaults()
  getFaults(@Res() res: HttpReply): Promise<void> {
    return this.send(res, () => ({ status: 200, body: this.gateway.faults }));
  }

  /** A trade as the provider reports it: expired-while-waiting reads as CLOSED. */
  private view(trade: SandboxTrade): Record<string, unknown> {
    return { ...trade, status: this.gateway.statusOf(trade), refundedAmount: refundedAmount(trade) };
  }

  private async send(res: HttpReply, produce: () => Reply | Promise<Reply>): Promise<void> {
    let reply: Reply;
    try {
      reply = await produce();
    } catch (error) {
      reply = problemReply(this.toProblem(error));
    }
    if (reply.location) res.header('Location', reply.location);
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.status(reply.status).type(withCharset(reply.type ?? 'application/json')).send(body);
  }

  private toProblem(error: unknown): Problem {
    if (error instanceof Problem) return error;
    if (!(error instanceof SandboxGatewayError)) throw error; // a bug: let Nest answer 500
    const status = ERROR_STATUS[error.code] ?? 409;
    const slug = `sandbox-${error.code.toLowerCase().replace(/_/g, '-')}`;
    // TRADE_PAID carries the paid trade, so a merchant closing it learns it was paid.
    const trade = error.trade && this.view(error.trade);
    const title = `The provider refused the request (${error.code})`;
    return new Problem(status, slug, title, error.message, { code: error.code, ...(trade && { trade }) });
  }

  /** The gateway's own base URL: configured, or what this request came to, up to `/api/`. */
  private publicUrl(req: HttpRequest): string {
    const configured = typeof this.options.publicUrl === 'function' ? this.options.publicUrl() : this.options.publicUrl;
    if (configured) return configured.replace(/\/+$/, '');
    const path = req.url;
    return `${req.protocol}://${headerOf(req, 'host')}${path.slice(0, path.indexOf('/api/'))}`;
  }

  private payPageOf(trade: SandboxTrade, locale: PayerLocale): string {
    const blocker = this.gateway.payBlocker(trade);
    const text = PAY_PAGE_TEXT[locale];
    const name = trade.provider === 'bank' ? text.bank : text.wallet;
    const details =
      `<p class="amount">${escapeHtml(formatMoney(trade.amount, trade.currency, locale))}</p>` +
      (trade.subject ? `<p>${escapeHtml(trade.subject)}</p>` : '') +
      `<p class="ref">${escapeHtml(text.reference.replace('{payment}', trade.outTradeNo).replace('{trade}', trade.tradeNo))}</p>`;
    const action = blocker
      ? `<p class="notice">${escapeHtml(text[blocker])}</p>` +
        `<p><a class="button secondary" href="${escapeHtml(trade.returnUrl)}">${escapeHtml(text.back)}</a></p>`
      : `<form method="post"><input type="hidden" name="csrf" value="${escapeHtml(this.gateway.payFormToken(trade.outTradeNo))}">` +
        `<button name="outcome" value="success">${escapeHtml(text.pay)}</button>` +
        `<button name="outcome" value="fail" class="secondary">${escapeHtml(text.decline)}</button></form>`;
    return page(locale, name, details + action);
  }
}

const ERROR_STATUS: Partial<Record<SandboxErrorCode, number>> = {
  API_DOWN: 503,
  SANDBOX_FULL: 503,
  TRADE_NOT_FOUND: 404,
  NOTIFY_URL_NOT_ALLOWED: 400,
  RETURN_URL_NOT_ALLOWED: 400,
};

function problemReply(problem: Problem): Reply {
  const { status, slug, title, detail, extra } = problem;
  return {
    status,
    type: 'application/problem+json',
    body: { type: PROBLEM_BASE + slug, title, status, detail, ...extra },
  };
}

function providerOf(name: string): SandboxProvider {
  const provider = SANDBOX_PROVIDERS.find((candidate) => candidate === name);
  if (!provider) throw new Problem(404, 'not-found', 'Not found', `unknown provider ${name}`);
  return provider;
}

// ---- hand-written body validation -------------------------------------------------------

/** Returns an error message, or undefined when the value is acceptable. */
type Check = (value: unknown) => string | undefined;

/** Checks a JSON object against a field list; unknown fields are rejected so typos don't pass. */
function readBody<T>(body: unknown, fields: Record<keyof T & string, { check: Check; optional?: boolean }>): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw validation([{ field: '', message: 'body must be a JSON object' }]);
  }
  const record = body as Record<string, unknown>;
  const errors: FieldError[] = Object.keys(record)
    .filter((field) => !Object.hasOwn(fields, field))
    .map((field) => ({ field, message: 'is not a known field' }));
  for (const [field, { check, optional }] of Object.entries<{ check: Check; optional?: boolean }>(fields)) {
    const value = record[field];
    const message = value === undefined ? (optional ? undefined : 'is required') : check(value);
    if (message) errors.push({ field, message });
  }
  if (errors.length > 0) throw validation(errors);
  return record as T;
}

function validation(errors: FieldError[]): Problem {
  // Worded as the service's own validation problems: the same title, and a detail naming each field.
  const detail = errors.map(({ field, message }) => `${field}: ${message}`).join('; ');
  return new Problem(400, 'validation', 'The request is not valid', detail, { errors });
}

/** A check from a predicate and the message given when it fails. */
const rule = (ok: (v: unknown) => boolean, message: string): Check => (v) => (ok(v) ? undefined : message);
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);

const isId = rule((v) => typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v), 'must be 1-64 characters of [A-Za-z0-9_-]');
const isAmount = rule((v) => isInteger(v) && v > 0, 'must be a positive integer in minor units');
const isCurrency = rule((v) => typeof v === 'string' && /^[A-Z]{3}$/.test(v), 'must be an ISO 4217 code');
const isTime = rule((v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 time');
const isBoolean = rule((v) => typeof v === 'boolean', 'must be a boolean');
const isHttpUrl = rule((v) => typeof v === 'string' && /^https?:\/\//.test(v) && URL.canParse(v), 'must be an http(s) URL');
const isText = (max: number) => rule((v) => typeof v === 'string' && v.length <= max, `must be text of at most ${max} characters`);
const isCount = (max: number) => rule((v) => isInteger(v) && v >= 0 && v <= max, `must be an integer from 0 to ${max}`);
const isSignedInteger = (max: number) => rule((v) => isInteger(v) && Math.abs(v) <= max, `must be an integer from -${max} to ${max}`);

/** Bounds the amount faults (minor units), so a typo can't make a trade worth more than JS counts exactly. */
const MAX_AMOUNT_DELTA = 1_000_000_000;
const oneOf = (...allowed: string[]) => rule((v) => allowed.includes(v as string), `must be one of ${allowed.join(', ')}`);
