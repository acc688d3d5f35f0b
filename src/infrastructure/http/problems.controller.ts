import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags, getSchemaPath, ApiExtraModels } from '@nestjs/swagger';
import accepts from 'accepts';
import type { HttpReply, HttpRequest } from './http-types.js';
import { NotFound } from '../../application/shared/errors.js';
import { ApiProblems, ApiPublic } from './openapi.js';
import { PROBLEM_BASE, PROBLEM_SLUGS, problemTitle } from './problem.js';
import { ProblemTypeDto } from './responses.dtos.js';

/** What a problem page says beyond its title and status: when it happens, and what the caller should do. */
export interface ProblemPage {
  readonly when: string;
  readonly whatToDo: string;
}

/** One page per slug of problem.ts (a test keeps the two lists equal). */
export const PROBLEM_PAGES: Readonly<Record<string, ProblemPage>> = {
  validation: {
    when: 'A body field, query parameter or path id is missing, malformed or unknown (errors names each one); an unknown channel or currency; payerIp missing for wechatpay; a currency the channel does not take; a notification that is not well formed.',
    whatToDo: 'Fix the fields listed in errors and send the request again. Nothing was recorded.',
  },
  unauthorized: {
    when: 'API_KEYS is set and the request carries no Authorization: Bearer <key>, or a key the service does not know.',
    whatToDo: 'Send a valid API key. Nothing was recorded.',
  },
  'bad-signature': {
    when: "A provider's notification (or a signed Alipay return) whose signature does not verify, or whose timestamp is out of tolerance.",
    whatToDo: 'Nothing was recorded. A genuine provider signs with the configured key and retries; check the channel secrets and the clocks if genuine notifications are refused.',
  },
  forbidden: {
    when: "The key's role may not do this: a merchant key on the audit log or reports, an auditor key changing anything, a merchant listing another merchant's orders.",
    whatToDo: 'Use a key with the right role (auditor or operator). Nothing was recorded.',
  },
  'not-found': {
    when: "An unknown (or another merchant's) order, payment or refund; an unknown route; a notification for a channel that is not offered or a payment of another channel.",
    whatToDo: 'Check the id and the key you call with.',
  },
  'order-conflict': {
    when: 'POST /orders with an orderId that exists with another amount, currency, description or validity (or under another merchant).',
    whatToDo: 'Send exactly the first body again to get the existing order, or use a new orderId.',
  },
  'order-not-payable': {
    when: 'Starting (or continuing) a payment of an order that is paid, expired or closed; orderStatus says which.',
    whatToDo: 'Do not take the payer to a payment page: show the result. An expired or closed order needs a new order.',
  },
  'order-not-closable': {
    when: 'Closing an order that is already paid (orderStatus is "paid"), also when a provider answers the close with "already paid".',
    whatToDo: 'The order is paid: treat it as paid.',
  },
  'payment-not-refundable': {
    when: "Raised inside the service's own reactions (a refund of a payment that captured nothing); not expected from an HTTP call.",
    whatToDo: 'Nothing to do as a caller; an operator should look at the logs.',
  },
  'refund-not-requested': {
    when: "Raised inside the service's own reactions (a refund outcome for a refund never requested); not expected from an HTTP call.",
    whatToDo: 'Nothing to do as a caller; an operator should look at the logs.',
  },
  'refund-not-resolvable': {
    when: 'Resolving a refund that is not failed, was already settled, or (retry) was partly refunded by the provider already.',
    whatToDo: 'Read the refund (GET /orders/{orderId}) and resolve only a failed one; the same resolution sent again is answered 200.',
  },
  'concurrency-conflict': {
    when: 'Too many concurrent writes to one order or payment: the command lost the race several times.',
    whatToDo: 'Retry the request; it is safe to repeat.',
  },
  'idempotency-conflict': {
    when: 'A POST with an Idempotency-Key that the same key space used within 24 hours for another request (another method, path or body).',
    whatToDo: 'Use a new key for a new request; send exactly the first request again to get its answer. Nothing was recorded.',
  },
  'idempotency-in-flight': {
    when: 'A POST with an Idempotency-Key whose first request is still running (two copies of one request sent at once).',
    whatToDo: 'Retry after a moment (Retry-After says when): once the first request has finished, its answer is sent again. Nothing was recorded by this one.',
  },
  'payload-too-large': {
    when: 'The request body is larger than 64 KiB.',
    whatToDo: 'Send a smaller body. Nothing was recorded.',
  },
  'unsupported-media-type': {
    when: 'The body is not application/json (reserved: no endpoint answers with it today).',
    whatToDo: 'Send Content-Type: application/json.',
  },
  'validity-too-short': {
    when: 'Starting a payment with less than PAYMENT_MIN_VALIDITY_SECONDS of the order left; remainingSeconds and minimumSeconds say how much.',
    whatToDo: 'Place a new order with more validity; this one can no longer be paid in time.',
  },
  'amount-mismatch': {
    when: 'A notification reports another amount or currency than the payment has (expected and reported show both).',
    whatToDo: 'Nothing is recorded as paid from it. If the provider really captured that amount, the service learns it by asking the provider, and refunds it once.',
  },
  'channel-unavailable': {
    when: 'The provider could not be reached, timed out, or gave an answer the service cannot use (also a misconfigured provider URL).',
    whatToDo: 'Retry later; it is safe to repeat. A payment start stays recorded and a retry on the same channel reuses the attempt.',
  },
  'not-ready': {
    when: 'GET /health/ready while the store is unreachable or the background workers have not started.',
    whatToDo: 'Send no traffic to this instance until it answers 200.',
  },
  internal: {
    when: 'An unexpected error; the service logged it and says nothing more.',
    whatToDo: 'Retry once; if it persists, give the operator the time and X-Correlation-Id of the request.',
  },
};

const GENERIC_PAGE: ProblemPage = { when: 'See the Errors section of the API reference.', whatToDo: 'See the Errors section of the API reference.' };

/**
 * The pages problem `type` URIs name: `https://payguard.dev/problems/<slug>` is the contract's
 * identifier, and the service serves the same page at `/problems/<slug>` (public, no key).
 */
@ApiTags('problems')
@ApiPublic()
@Controller('problems')
export class ProblemsController {
  @Get(':slug')
  @ApiOperation({ operationId: 'getProblemType', summary: 'What a problem type means: title, status, when it happens, what to do (HTML, or JSON with Accept: application/json)' })
  @ApiParam({ name: 'slug', enum: [...PROBLEM_SLUGS] })
  @ApiProduces('text/html', 'application/json')
  @ApiExtraModels(ProblemTypeDto)
  @ApiOkResponse({ content: { 'text/html': { schema: { type: 'string' } }, 'application/json': { schema: { $ref: getSchemaPath(ProblemTypeDto) } } } })
  @ApiProblems('not-found')
  page(@Param('slug') slug: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpReply): Record<string, unknown> | string {
    const known = problemTitle(slug);
    if (known === undefined) throw new NotFound(`no problem type ${slug.slice(0, 64)}`);
    const { when, whatToDo } = PROBLEM_PAGES[slug] ?? GENERIC_PAGE;
    const description = { type: `${PROBLEM_BASE}${slug}`, slug, title: known.title, status: known.status, when, whatToDo };
    response.header('Vary', 'Accept');
    response.header('Cache-Control', 'public, max-age=3600');
    if (accepts(request.raw).type(['html', 'json']) === 'json') return description;
    response.type('text/html; charset=utf-8');
    return pageHtml(description);
  }
}

function pageHtml(p: { type: string; slug: string; title: string; status: number; when: string; whatToDo: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${escape(p.title)} (${p.status} ${escape(p.slug)})</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2rem}</style></head>
<body><main>
<h1>${escape(p.title)}</h1>
<p>HTTP status <strong data-status>${p.status}</strong>, problem type <code data-type>${escape(p.type)}</code></p>
<h2>When it happens</h2><p data-when>${escape(p.when)}</p>
<h2>What to do</h2><p data-what-to-do>${escape(p.whatToDo)}</p>
<p>Answers with this problem are <code>application/problem+json</code> (RFC 9457): <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>.</p>
</main></body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
