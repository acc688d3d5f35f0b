import { Body, Controller, Get, HttpCode, Logger, Options, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { headerOf, type HttpReply, type HttpRequest } from '../http/http-types.js';
import { CheckoutSessionEnded, CheckoutSessions, type CheckoutState, type StartedCheckoutPayment } from '../../application/checkout/checkout-sessions.js';
import { NotFound } from '../../application/shared/errors.js';
import { CorrelationId } from '../http/auth.guard.js';
import { ApiProblems, ApiPublic } from '../http/openapi.js';
import { checkoutPageScript } from './checkout-page.script.js';
import { checkoutPage, sessionProblemPage } from './checkout.pages.js';
import { NO_FIELDS, NO_FIELDS_SCHEMA } from '../http/validation.js';
import { CheckoutPaymentDto, CheckoutStateDto, StartedCheckoutPaymentDto } from './checkout.dtos.js';
import { CHECKOUT_CSS } from './checkout.styles.js';
import { guardScript } from './guard.script.js';
import { chooseLocale } from './i18n.js';
import { sendPage } from './layout.js';
import { correlated } from '../../application/shared/log-lines.js';
import { correlationIdOf } from '../http/correlation-id.middleware.js';

/** A browser script from a function's own source text (see checkout-page.script.ts). */
const asScript = (body: () => void): string => `'use strict';\n(${body.toString()})();\n`;

const ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  'checkout.js': { type: 'text/javascript; charset=utf-8', body: asScript(checkoutPageScript) },
  'checkout.css': { type: 'text/css; charset=utf-8', body: CHECKOUT_CSS },
};
const GUARD = asScript(guardScript);

/**
 * The payer's side of the hosted checkout, reached with a session's token and no API key: the
 * page, its script and styles, the JSON endpoints the page (or guard.js on a shop's page) calls,
 * and guard.js. The JSON endpoints answer any origin (CORS `*`, no credentials): the token in the
 * path is the only thing that grants anything, and a shop's page calls them with guard.js.
 */
@ApiTags('checkout')
@ApiPublic()
@Controller('checkout')
export class CheckoutController {
  private readonly logger = new Logger(CheckoutController.name);

  constructor(private readonly sessions: CheckoutSessions) {}

  /** Declared before `:token`, which would otherwise take the name. */
  @Get('guard.js')
  @ApiOperation({ operationId: 'getCheckoutGuardScript', summary: "The checkout's guard for a shop's own payment page (see docs/api.md)" })
  @ApiProduces('text/javascript')
  @ApiOkResponse({ schema: { type: 'string' } })
  guard(@Res() response: HttpReply): void {
    // Loaded by shops' pages from their own origin.
    response.headers({ 'Cross-Origin-Resource-Policy': 'cross-origin', 'Access-Control-Allow-Origin': '*' });
    sendAsset(response, 'text/javascript; charset=utf-8', GUARD);
  }

  @Get('assets/:name')
  @ApiOperation({ operationId: 'getCheckoutAsset', summary: "The hosted page's script and stylesheet" })
  @ApiParam({ name: 'name', enum: Object.keys(ASSETS) })
  @ApiResponse({ status: 200, content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } })
  @ApiProblems('not-found')
  asset(@Param('name') name: string, @Res() response: HttpReply): void {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (asset === undefined) throw new NotFound(`no asset ${name}`);
    sendAsset(response, asset.type, asset.body);
  }

  @Get(':token')
  @ApiOperation({ operationId: 'getCheckoutPage', summary: "The hosted checkout page (HTML, no API key: the session's token is in the path)" })
  @ApiQuery({ name: 'lang', required: false, schema: { type: 'string', enum: ['zh-CN', 'en'] } })
  @ApiResponse({ status: 200, content: { 'text/html': { schema: { type: 'string' } } } })
  @ApiResponse({ status: 404, description: 'not a session token (a page for the payer)', content: { 'text/html': { schema: { type: 'string' } } } })
  @ApiResponse({ status: 410, description: 'the session has ended (a page for the payer)', content: { 'text/html': { schema: { type: 'string' } } } })
  async page(@Param('token') token: string, @Req() request: HttpRequest, @Res() response: HttpReply): Promise<void> {
    const chosen = (session: CheckoutState['locale']) => chooseLocale({ query: request.query.lang, session, acceptLanguage: headerOf(request, 'accept-language') });
    let state: CheckoutState;
    try {
      state = await this.sessions.state(token);
    } catch (error) {
      const kind = error instanceof CheckoutSessionEnded ? 'ended' : error instanceof NotFound ? 'invalid' : 'error';
      if (kind === 'error') this.logger.error(correlated(correlationIdOf(response.raw), `checkout page: ${(error as Error)?.stack ?? String(error)}`));
      sendPage(response, kind === 'ended' ? 410 : kind === 'invalid' ? 404 : 500, sessionProblemPage(kind, chosen(null)));
      return;
    }
    sendPage(response, 200, checkoutPage(token, state, chosen(state.locale)));
  }

  @Get(':token/state')
  @ApiOperation({ operationId: 'getCheckoutState', summary: "The session's order as the page acts on it: pay, confirm-previous-attempt or show-result" })
  @ApiOkResponse({ type: CheckoutStateDto })
  @ApiProblems('not-found')
  state(@Param('token') token: string, @Res({ passthrough: true }) response: HttpReply): Promise<CheckoutState> {
    answerAnyOrigin(response);
    return this.sessions.state(token);
  }

  @Post(':token/payments')
  @HttpCode(201)
  @ApiOperation({ operationId: 'startCheckoutPayment', summary: 'Start paying on a channel (an attempt in flight on another channel is closed first); go to payUrl in the same window' })
  @ApiCreatedResponse({ type: StartedCheckoutPaymentDto })
  @ApiProblems('validation', 'not-found', 'order-not-payable', 'validity-too-short', 'concurrency-conflict', 'payload-too-large', 'channel-unavailable')
  pay(
    @Param('token') token: string,
    @Body() body: CheckoutPaymentDto,
    @Req() request: HttpRequest,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) response: HttpReply,
  ): Promise<StartedCheckoutPayment> {
    answerAnyOrigin(response);
    return this.sessions.pay(token, { channel: body.channel, returnTo: body.returnTo ?? 'checkout', payerIp: request.ip ?? null }, correlationId);
  }

  @Post(':token/confirm')
  @HttpCode(200)
  @ApiOperation({ operationId: 'confirmCheckoutPayment', summary: '"Yes, I have paid": ask the channel of the attempt in flight, then answer the state' })
  @ApiBody({ required: false, schema: NO_FIELDS_SCHEMA })
  @ApiOkResponse({ type: CheckoutStateDto })
  @ApiProblems('validation', 'not-found', 'concurrency-conflict', 'channel-unavailable')
  confirm(
    @Param('token') token: string,
    @Body(NO_FIELDS) _body: object,
    @CorrelationId() correlationId: string,
    @Res({ passthrough: true }) response: HttpReply,
  ): Promise<CheckoutState> {
    answerAnyOrigin(response);
    return this.sessions.confirm(token, correlationId);
  }

  /** CORS preflight of a shop's page (guard.js posts JSON). */
  @Options(':token/:action')
  @HttpCode(204)
  @ApiExcludeEndpoint()
  preflight(@Res({ passthrough: true }) response: HttpReply): void {
    answerAnyOrigin(response);
    response.headers({ 'Access-Control-Allow-Methods': 'GET, POST', 'Access-Control-Allow-Headers': 'content-type', 'Access-Control-Max-Age': '600' });
  }
}

function answerAnyOrigin(response: HttpReply): void {
  response.headers({ 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-store' });
}

function sendAsset(response: HttpReply, type: string, body: string): void {
  response.headers({ 'Content-Type': type, 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' }).send(body);
}
