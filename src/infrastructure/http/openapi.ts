/**
 * OpenAPI decorators every controller shares, so /openapi.json says what the service answers:
 * its problem answers (RFC 9457, one example per slug), which operations need no key, and typed
 * query and path parameters. The document requires the bearer key everywhere by default, as the
 * auth guard does; `ApiPublic` marks what the guard lets through without one.
 *
 * A new operation is documented with: `@ApiTags` on its controller (and the tag's line in
 * openapi-document.ts), `@ApiOperation({ operationId: 'camelCase', summary })`, a 2xx answer with
 * a schema class (`@ApiOkResponse({ type })`, `@ApiCreatedResponse`), `@ApiProblems(...slugs)`
 * for every problem it can answer (`unauthorized` on a protected controller), typed parameters
 * (the helpers below), and `ApiIdempotencyKey()` on a POST the interceptor covers.
 * test/e2e/openapi.e2e.spec.ts fails on an operation left without them.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiParam, ApiProperty, ApiPropertyOptional, ApiQuery, ApiResponse, ApiSchema, DECORATORS, getSchemaPath } from '@nestjs/swagger';
import { PROBLEM_BASE, problemTitle } from './problem.js';
import { ID_PATTERN } from './validation.js';

@ApiSchema({ name: 'FieldError' })
export class FieldErrorSchema {
  @ApiProperty({ description: 'the body field, query parameter or path id', example: 'amount' })
  field!: string;

  @ApiProperty({ example: 'amount is required' })
  message!: string;
}

@ApiSchema({ name: 'Problem', description: 'RFC 9457 problem details (application/problem+json); some types add fields (orderStatus, remainingSeconds...)' })
export class ProblemSchema {
  @ApiProperty({ format: 'uri', description: `${PROBLEM_BASE}<slug>; the service serves the page at /problems/<slug>`, example: `${PROBLEM_BASE}validation` })
  type!: string;

  @ApiProperty({ example: 'The request is not valid' })
  title!: string;

  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 400 })
  status!: number;

  @ApiProperty({ example: 'amount: amount is required' })
  detail!: string;

  @ApiPropertyOptional({ type: [FieldErrorSchema], description: 'every field at fault (validation)' })
  errors?: FieldErrorSchema[];
}

/** What an answer with this slug looks like (detail and the type's own fields), for the document's examples. */
const EXAMPLES: Readonly<Record<string, Record<string, unknown>>> = {
  validation: { detail: 'amount: amount is required', errors: [{ field: 'amount', message: 'amount is required' }] },
  unauthorized: { detail: 'send Authorization: Bearer <key> with a valid API key' },
  'bad-signature': { detail: 'the Sandbox-Signature header does not verify' },
  forbidden: { detail: 'an auditor key is read-only' },
  'not-found': { detail: 'order order-1001 does not exist' },
  'order-conflict': { detail: 'order order-1001 already exists with different details' },
  'order-not-payable': { detail: "order order-1001 is paid and can't be paid", orderStatus: 'paid' },
  'order-not-closable': { detail: "order order-1001 is paid and can't be closed", orderStatus: 'paid' },
  'refund-not-resolvable': { detail: 'refund refund-pay_1 cannot be resolved: it is not failed' },
  'concurrency-conflict': { detail: 'the resource changed under too many concurrent requests' },
  'idempotency-conflict': { detail: 'this Idempotency-Key was used with another request (method, path or body); use a new key for a new request' },
  'idempotency-in-flight': { detail: 'a request with this Idempotency-Key is still running; retry it in a moment to get its answer' },
  'payload-too-large': { detail: 'the request body exceeds 64 KiB' },
  'validity-too-short': { detail: 'order order-1001 has 42 s of validity left; a payment needs at least 60 s', remainingSeconds: 42, minimumSeconds: 60 },
  'amount-mismatch': {
    detail: 'payment pay_1 is 1999 CNY; the channel reported 1000 CNY',
    expected: { amount: 1999, currency: 'CNY' },
    reported: { amount: 1000, currency: 'CNY' },
  },
  'channel-unavailable': { detail: 'sandbox-bank could not be reached' },
  'not-ready': { detail: 'event store: database is locked' },
  internal: { detail: 'an unexpected error occurred; it has been logged' },
};

/**
 * The problem answers an operation (or every operation of a controller) may give, by slug of
 * problem.ts: one response per status, `application/problem+json`, an example per slug. Several
 * ApiProblems on one operation add up (two slugs of one status share its response).
 */
export function ApiProblems(...slugs: string[]): MethodDecorator & ClassDecorator {
  const responses = slugs.map((slug) => {
    const known = problemTitle(slug);
    if (known === undefined) throw new Error(`ApiProblems: no problem type ${slug} in problem.ts`);
    const { status, title } = known;
    return ApiProblemResponse(status, `\`${slug}\`: ${title}`, { [slug]: { type: `${PROBLEM_BASE}${slug}`, title, status, detail: title, ...EXAMPLES[slug] } });
  });
  return applyDecorators(...responses);
}

type ResponseEntry = { description?: string; content?: Record<string, { examples?: Record<string, unknown> }> };

/**
 * One problem+json response, added to what the operation already says for that status (its
 * description and examples kept); also for problem types outside problem.ts (the sandbox's own).
 */
export function ApiProblemResponse(status: number, description: string, examples: Record<string, Record<string, unknown>> = {}): MethodDecorator & ClassDecorator {
  const add = (holder: object) => {
    const responses: Record<string, ResponseEntry> = Reflect.getMetadata(DECORATORS.API_RESPONSE, holder) ?? {};
    const before = responses[status];
    const named = { ...before?.content?.['application/problem+json']?.examples };
    for (const [name, value] of Object.entries(examples)) named[name] = { summary: String(value.title ?? name), value };
    const media = { schema: { $ref: getSchemaPath(ProblemSchema) }, ...(Object.keys(named).length > 0 && { examples: named }) };
    const text = before?.description ? `${before.description}; ${description}` : description;
    Reflect.defineMetadata(DECORATORS.API_RESPONSE, { ...responses, [status]: { ...before, description: text, content: { ...before?.content, 'application/problem+json': media } } }, holder);
  };
  const models = ApiExtraModels(ProblemSchema);
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor !== undefined) {
      models(target, key!, descriptor);
      add(descriptor.value as object);
      return descriptor;
    }
    (models as ClassDecorator)(target as never);
    add(target);
    return undefined;
  }) as MethodDecorator & ClassDecorator;
}

/**
 * An operation (or every operation of a controller) the auth guard lets through without a key
 * (its PUBLIC paths): `security: []` overrides the document's default bearer requirement.
 */
export function ApiPublic(): MethodDecorator & ClassDecorator {
  const mark = (method: object) => Reflect.defineMetadata(DECORATORS.API_OPERATION, { ...Reflect.getMetadata(DECORATORS.API_OPERATION, method), security: [] }, method);
  return ((target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor !== undefined) {
      mark(descriptor.value as object);
      return descriptor;
    }
    // A class decorator runs after its methods' decorators, so their ApiOperation is already there to extend.
    const prototype = (target as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const method = Object.getOwnPropertyDescriptor(prototype, name)?.value;
      if (name !== 'constructor' && typeof method === 'function') mark(method);
    }
    return undefined;
  }) as MethodDecorator & ClassDecorator;
}

/** `limit`: an integer page size, as QueryReader.integer reads it. */
export const ApiLimitQuery = (fallback = 100, max = 1000): MethodDecorator =>
  ApiQuery({ name: 'limit', required: false, description: `page size, 1-${max}`, schema: { type: 'integer', minimum: 1, maximum: max, default: fallback } });

/** `cursor`: the `next` of the previous page, passed back as it came. */
export const ApiCursorQuery = (): MethodDecorator =>
  ApiQuery({ name: 'cursor', required: false, description: '`next` of the previous page (opaque)', schema: { type: 'string', maxLength: 512 } });

/** A bound of a report, as QueryReader.time reads it: a day YYYY-MM-DD, or an ISO 8601 time with its zone. */
export const ApiTimeQuery = (name: string, description: string): MethodDecorator =>
  ApiQuery({
    name,
    required: false,
    description,
    schema: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))?$', example: '2026-11-26' },
  });

/** A caller-supplied id in the path: 1-64 characters of [A-Za-z0-9_-]. */
export const ApiIdParam = (name: string, description: string, example: string): MethodDecorator =>
  ApiParam({ name, description, schema: { type: 'string', pattern: ID_PATTERN.source, example } });

/** An order in the path: its orderId, or its key `merchantId.orderId` (how auditors and operators name a merchant's order). */
export const ApiOrderRefParam = (): MethodDecorator =>
  ApiParam({
    name: 'orderId',
    description: 'the orderId, or the order key merchantId.orderId (auditor and operator keys, open mode)',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}(\\.[A-Za-z0-9_-]{1,64})?$', example: 'order-1001' },
  });
