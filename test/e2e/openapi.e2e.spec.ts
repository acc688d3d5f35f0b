/**
 * /openapi.json against the running service: a valid OpenAPI 3.1 document, whose security says
 * what the auth guard does, whose every route is documented, whose examples validate, and whose
 * response schemas are what the service really answers (checked on a journey through the API).
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';

const merchant = { authorization: 'Bearer key-merchant' };
const auditor = { authorization: 'Bearer key-auditor' };
const operator = { authorization: 'Bearer key-operator' };

type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> }; security?: object[] };
type Media = { schema?: object; example?: unknown; examples?: Record<string, { value: unknown }> };
type Operation = {
  operationId?: string;
  tags?: string[];
  security?: object[];
  parameters?: { name: string; in: string; schema?: { example?: unknown; enum?: unknown[] } }[];
  requestBody?: { required?: boolean; content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
};
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];

/** Routes Nest serves that the document leaves out, each for a reason. */
const NOT_OPERATIONS: Record<string, string> = {
  'OPTIONS /checkout/{token}/{action}': "the CORS preflight browsers send before guard.js's calls",
};

describe('the OpenAPI document', () => {
  let app: TestApp;
  let doc: Doc;
  let ajv: InstanceType<typeof Ajv2020>;
  const called = new Set<string>();

  const operations = (): { key: string; path: string; method: string; op: Operation }[] =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })),
    );

  /** A schema of the document, with its components: open (objects may carry more), or closed (an undocumented field fails). */
  const compile = (schema: object, mode: 'open' | 'closed' = 'open'): ValidateFunction => ajv.compile(relink(schema, mode));

  /**
   * Calls the service, then checks the answer against the operation `method template`: its status
   * is documented, with this content type, and the body matches that schema (closed objects).
   */
  async function call(method: string, template: string, params: Record<string, string>, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]));
    const answer = await app.request(method, path, body, headers);
    const op = doc.paths[template.split('?')[0]]?.[method.toLowerCase()];
    const where = `${method} ${template} -> ${answer.status}`;
    expect({ where, documented: op !== undefined }).toEqual({ where, documented: true });
    called.add(`${method} ${template.split('?')[0]}`);
    // A body the document requires but the service did without (or one it does not describe) is a wrong document.
    if (/^2/.test(String(answer.status))) {
      expect({ where, bodyRequired: op.requestBody?.required === true }).toEqual({ where, bodyRequired: body === undefined ? false : op.requestBody?.required === true });
      if (body !== undefined) expect({ where, bodyDescribed: op.requestBody !== undefined }).toEqual({ where, bodyDescribed: true });
    }
    const response = op.responses[String(answer.status)];
    expect({ where, statusDocumented: response !== undefined }).toEqual({ where, statusDocumented: true });
    const type = (answer.headers.get('content-type') ?? '').split(';')[0].trim();
    if (response.content === undefined) {
      expect({ where, body: answer.body ?? '' }).toEqual({ where, body: '' });
      return answer;
    }
    expect({ where, type, documented: Object.keys(response.content) }).toEqual({ where, type, documented: expect.arrayContaining([type]) });
    const validate = compile(response.content[type].schema ?? {}, 'closed');
    if (!validate(answer.body)) throw new Error(`${where} (${type}) does not match its schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.body).slice(0, 600)}`);
    return answer;
  }

  beforeAll(async () => {
    app = await startTestApp({
      API_KEYS: 'key-merchant:shop,key-auditor:*:auditor,key-operator:*:operator',
      SANDBOX_ENABLED: 'true',
      SANDBOX_SECRET: 'openapi-e2e-sandbox-secret-0123456789',
    });
    const answer = await app.request('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    doc = answer.body;
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    for (const mode of ['open', 'closed'] as const) ajv.addSchema({ $id: mode, components: { schemas: relinkComponents(doc.components.schemas, mode) } });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every route Nest serves, and only those', () => {
    const served = app.running.routes
      .filter((route) => route.method !== 'HEAD')
      .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`)
      // Swagger UI's own pages and the document itself
      .filter((key) => !/^GET \/(docs|openapi\.json)/.test(key))
      .filter((key) => !(key in NOT_OPERATIONS));
    const documented = operations().map(({ key }) => key);
    expect([...new Set(served)].sort()).toEqual([...new Set(documented)].sort());
  });

  it('declares bearer security on exactly the operations the auth guard refuses without a key', async () => {
    expect(doc.security).toEqual([{ bearer: [] }]);
    const sample = (name: string, schema?: { example?: unknown; enum?: unknown[] }) => String(schema?.example ?? schema?.enum?.[0] ?? `x-${name}`);
    const mismatches: string[] = [];
    for (const { key, path, method, op } of operations()) {
      const params = Object.fromEntries((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => [p.name, sample(p.name, p.schema)]));
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]));
      const answer = await app.request(method.toUpperCase(), url, method === 'get' || method === 'delete' ? undefined : {});
      const guarded = answer.status === 401 && answer.body?.type === 'https://payguard.dev/problems/unauthorized';
      const declared = JSON.stringify(op.security ?? doc.security) === JSON.stringify([{ bearer: [] }]);
      if (guarded !== declared) mismatches.push(`${key}: the guard ${guarded ? 'asks' : 'does not ask'} for a key, the document ${declared ? 'does' : 'does not'}`);
      if (!declared) expect({ key, security: op.security }).toEqual({ key, security: [] });
    }
    expect(mismatches).toEqual([]);
  });

  it('gives every operation a readable operationId, a 2xx answer with a schema, and problem+json for every 4xx', () => {
    const faults: string[] = [];
    const ids = new Set<string>();
    for (const { key, op } of operations()) {
      if (!/^[a-z][A-Za-z0-9]+$/.test(op.operationId ?? '')) faults.push(`${key}: operationId ${op.operationId}`);
      if (ids.has(op.operationId!)) faults.push(`${key}: operationId ${op.operationId} twice`);
      ids.add(op.operationId!);
      const ok = Object.entries(op.responses).filter(([status, response]) => /^2/.test(status) && Object.values(response.content ?? {}).some((media) => media.schema));
      // A 204 carries nothing; an operation that only answers 204 documents that.
      if (ok.length === 0 && !('204' in op.responses)) faults.push(`${key}: no 2xx answer with a schema`);
      for (const [status, response] of Object.entries(op.responses).filter(([status]) => /^4/.test(status))) {
        const types = Object.keys(response.content ?? {});
        const problem = response.content?.['application/problem+json']?.schema as { $ref?: string } | undefined;
        // The payer's pages answer a browser with a page, never a problem document.
        const page = types.length === 1 && types[0] === 'text/html';
        if (!page && problem?.$ref !== '#/components/schemas/Problem') faults.push(`${key} ${status}: not problem+json (${types.join(', ') || 'no content'})`);
      }
    }
    expect(faults).toEqual([]);
  });

  it('has examples that validate against their schemas', () => {
    const faults: string[] = [];
    const check = (where: string, schema: object | undefined, value: unknown) => {
      if (schema === undefined) return faults.push(`${where}: an example without a schema`);
      const validate = compile(schema);
      if (!validate(value)) faults.push(`${where}: ${ajv.errorsText(validate.errors)}`);
    };
    const media = (where: string, content: Record<string, Media> | undefined) => {
      for (const [type, m] of Object.entries(content ?? {})) {
        if (m.example !== undefined) check(`${where} ${type}`, m.schema, m.example);
        for (const [name, example] of Object.entries(m.examples ?? {})) check(`${where} ${type} ${name}`, m.schema, example.value);
      }
    };
    let count = 0;
    /** Every `example` inside a schema, checked against the schema it sits in. */
    const walk = (where: string, node: unknown): void => {
      if (Array.isArray(node)) return node.forEach((item, i) => walk(`${where}/${i}`, item));
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if ('example' in record && ('type' in record || '$ref' in record || 'enum' in record || 'anyOf' in record)) {
        count += 1;
        const { example, ...schema } = record;
        check(where, schema, example);
      }
      for (const [key, value] of Object.entries(record)) if (key !== 'example' && key !== 'examples') walk(`${where}/${key}`, value);
    };
    walk('#/components/schemas', doc.components.schemas);
    for (const { key, op } of operations()) {
      walk(`${key} parameters`, op.parameters);
      media(`${key} request`, op.requestBody?.content);
      for (const [status, response] of Object.entries(op.responses)) media(`${key} ${status}`, response.content);
    }
    expect(faults).toEqual([]);
    expect(count).toBeGreaterThan(20);
  });

  it("sends POST /orders's examples to the service, which accepts them", async () => {
    const examples = doc.paths['/orders'].post.requestBody!.content['application/json'].examples!;
    expect(Object.keys(examples).length).toBeGreaterThan(0);
    for (const [name, { value }] of Object.entries(examples)) {
      const answer = await call('POST', '/orders', {}, value, merchant);
      expect({ name, accepted: [200, 201].includes(answer.status) }).toEqual({ name, accepted: true });
    }
  });

  it('answers, on a journey through the API, exactly what the document says (status, content type, schema, no undocumented field)', async () => {
    const base = app.url;
    // Liveness and readiness, without a key.
    await call('GET', '/health/live', {});
    await call('GET', '/health/ready', {});

    // An order: placed, placed again, refused three ways.
    const placed = await call('POST', '/orders', {}, { orderId: 'oa-1', amount: 1999, currency: 'CNY', expiresInSeconds: 900, description: 'Tea set' }, merchant);
    expect(placed.status).toBe(201);
    expect((await call('POST', '/orders', {}, { orderId: 'oa-1', amount: 1999, currency: 'CNY', expiresInSeconds: 900, description: 'Tea set' }, merchant)).status).toBe(200);
    expect((await call('POST', '/orders', {}, { orderId: 'oa-1', amount: 1, currency: 'CNY' }, merchant)).status).toBe(409);
    expect((await call('POST', '/orders', {}, { amount: 'lots' }, merchant)).status).toBe(400);
    expect((await call('POST', '/orders', {}, { amount: 1, currency: 'CNY' })).status).toBe(401);
    expect((await call('POST', '/orders', {}, { amount: 1, currency: 'CNY' }, auditor)).status).toBe(403);
    await call('GET', '/orders/{orderId}', { orderId: 'oa-1' }, undefined, merchant);
    expect((await call('GET', '/orders/{orderId}', { orderId: 'no-such-order' }, undefined, merchant)).status).toBe(404);
    await call('GET', '/orders/{orderId}/checkout', { orderId: 'oa-1' }, undefined, merchant);

    // Paid on the bank: the attempt, the same attempt again, the provider's page, the payer pays.
    const bank = await call('POST', '/orders/{orderId}/payments', { orderId: 'oa-1' }, { channel: 'sandbox-bank' }, merchant);
    expect(bank.status).toBe(201);
    expect((await call('POST', '/orders/{orderId}/payments', { orderId: 'oa-1' }, { channel: 'sandbox-bank' }, merchant)).status).toBe(200);
    const paymentId: string = bank.body.paymentId;
    await call('GET', '/orders/{orderId}/checkout', { orderId: 'oa-1' }, undefined, merchant);
    await call('GET', '/sandbox/pay/{paymentId}', { paymentId }, undefined, { accept: 'text/html' });
    await call('GET', '/sandbox/assets/pay.css', {}, undefined, { accept: 'text/css' });
    await call('GET', '/sandbox/api/{provider}/trades/{outTradeNo}', { provider: 'bank', outTradeNo: paymentId });
    await call('POST', '/sandbox/pay/{paymentId}', { paymentId }, {});
    await eventually(() => app.request('GET', '/orders/oa-1', undefined, merchant), (a) => a.body.status === 'paid', 20_000);
    await call('GET', '/payments/{paymentId}', { paymentId }, undefined, merchant);
    await call('POST', '/payments/{paymentId}/sync', { paymentId }, undefined, merchant);
    expect((await call('POST', '/orders/{orderId}/payments', { orderId: 'oa-1' }, { channel: 'sandbox-wallet' }, merchant)).status).toBe(409);
    expect((await call('POST', '/orders/{orderId}/close', { orderId: 'oa-1' }, {}, merchant)).status).toBe(409);
    expect((await call('GET', '/channels/{channel}/return', { channel: 'sandbox-bank' }, undefined, { accept: 'text/html' })).status).toBe(404);
    await call('GET', `/channels/{channel}/return?paymentId=${paymentId}`, { channel: 'sandbox-bank' }, undefined, { accept: 'text/html' });

    // A second order paid twice: a duplicate payment, its anomaly and its refund.
    await call('POST', '/orders', {}, { orderId: 'oa-2', amount: 500, currency: 'CNY' }, merchant);
    const first = await call('POST', '/orders/{orderId}/payments', { orderId: 'oa-2' }, { channel: 'sandbox-bank' }, merchant);
    const second = await call('POST', '/orders/{orderId}/payments', { orderId: 'oa-2' }, { channel: 'sandbox-wallet' }, merchant);
    await app.pay(first.body.paymentId);
    await app.pay(second.body.paymentId);
    await eventually(() => app.request('GET', '/orders/oa-2', undefined, merchant), (a) => a.body.refunds?.[0]?.status === 'succeeded', 20_000);
    await call('GET', '/orders/{orderId}', { orderId: 'oa-2' }, undefined, merchant);
    const refundId = `refund-${second.body.paymentId}`;
    expect((await call('POST', '/refunds/{refundId}/resolve', { refundId }, { resolution: 'written-off', note: 'test' }, operator)).status).toBe(409);
    expect((await call('POST', '/refunds/{refundId}/resolve', { refundId }, { resolution: 'written-off', note: 'test' }, merchant)).status).toBe(403);

    // A third order, closed; then the hosted checkout on a fourth.
    await call('POST', '/orders', {}, { orderId: 'oa-3', amount: 700, currency: 'USD' }, merchant);
    await call('POST', '/orders/{orderId}/close', { orderId: 'oa-3' }, { reason: 'customer left' }, merchant);
    await call('POST', '/orders', {}, { orderId: 'oa-5', amount: 700, currency: 'USD' }, merchant);
    await call('POST', '/orders/{orderId}/close', { orderId: 'oa-5' }, undefined, merchant);
    await call('POST', '/orders', {}, { orderId: 'oa-4', amount: 800, currency: 'CNY' }, merchant);
    const session = await call('POST', '/orders/{orderId}/checkout-sessions', { orderId: 'oa-4' }, { locale: 'en' }, merchant);
    const token = new URL(session.body.url).pathname.split('/').pop()!;
    await call('GET', '/checkout/{token}', { token }, undefined, { accept: 'text/html' });
    expect((await call('GET', '/checkout/{token}', { token: 'not-a-token' }, undefined, { accept: 'text/html' })).status).toBe(404);
    await call('GET', '/checkout/{token}/state', { token });
    expect((await call('GET', '/checkout/{token}/state', { token: 'not-a-token' })).status).toBe(404);
    await call('POST', '/checkout/{token}/payments', { token }, { channel: 'sandbox-wallet' });
    await call('POST', '/checkout/{token}/confirm', { token });
    await call('GET', '/checkout/guard.js', {}, undefined, { accept: 'text/javascript' });
    await call('GET', '/checkout/assets/{name}', { name: 'checkout.css' }, undefined, { accept: 'text/css' });

    // The sandbox provider's own API, as a merchant server calls it.
    const trade = { outTradeNo: 'oa-trade-1', amount: 100, currency: 'CNY', timeExpire: new Date(Date.now() + 600_000).toISOString(), notifyUrl: `${base}/channels/sandbox-bank/notifications`, returnUrl: `${base}/x` };
    expect((await call('POST', '/sandbox/api/{provider}/trades', { provider: 'bank' }, trade)).status).toBe(201);
    await call('GET', '/sandbox/api/{provider}/trades', { provider: 'wallet' });
    expect((await call('POST', '/sandbox/api/{provider}/trades/{outTradeNo}/refunds', { provider: 'bank', outTradeNo: 'oa-trade-1' }, { outRequestNo: 'r1', amount: 100 })).status).toBe(409);
    await call('POST', '/sandbox/api/{provider}/trades/{outTradeNo}/close', { provider: 'bank', outTradeNo: 'oa-trade-1' });
    await call('POST', '/sandbox/api/{provider}/trades/{outTradeNo}/refunds', { provider: 'bank', outTradeNo: paymentId }, { outRequestNo: 'oa-r2', amount: 10 });
    expect((await call('GET', '/sandbox/api/{provider}/trades/{outTradeNo}', { provider: 'bank', outTradeNo: 'nothing' })).status).toBe(404);
    await call('GET', '/sandbox/faults', {});
    expect((await call('PUT', '/sandbox/faults', {}, {})).status).toBe(401);
    await call('PUT', '/sandbox/faults', {}, { apiDown: false }, operator);
    expect((await call('POST', '/channels/{channel}/notifications', { channel: 'sandbox-bank' }, { paymentId })).status).toBe(401);

    // What auditors and operators read.
    await app.settle();
    await call('GET', '/orders', {}, undefined, merchant);
    await call('GET', '/orders?status=paid&limit=10', {}, undefined, auditor);
    expect((await call('GET', '/orders?limit=0', {}, undefined, merchant)).status).toBe(400);
    const anomalies = await eventually(() => call('GET', '/reports/anomalies', {}, undefined, auditor), (a) => a.body.anomalies.length > 0, 20_000);
    expect(anomalies.body.anomalies[0].kind).toBe('duplicate-payment');
    expect((await call('GET', '/reports/anomalies', {}, undefined, merchant)).status).toBe(403);
    await call('GET', '/reports/settlement', {}, undefined, auditor);
    await call('GET', '/reports/settlement', {}, undefined, { ...auditor, accept: 'text/csv' });
    const log = await call('GET', '/audit/events?limit=1000', {}, undefined, auditor);
    expect(log.body.events.length).toBeGreaterThan(10);
    await call('GET', '/audit/streams/{streamName}', { streamName: log.body.events[0].streamName }, undefined, operator);
    expect((await call('GET', '/audit/streams/{streamName}', { streamName: 'nope' }, undefined, auditor)).status).toBe(400);
    await call('GET', '/metrics', {}, undefined, { ...operator, accept: 'text/plain' });
    await call('GET', '/problems/{slug}', { slug: 'order-conflict' });
    await call('GET', '/problems/{slug}', { slug: 'order-conflict' }, undefined, { accept: 'text/html' });
    expect((await call('GET', '/problems/{slug}', { slug: 'no-such-problem' })).status).toBe(404);
  }, 90_000);

  it('checks answers closed: an order with a field the schema does not name, or without one it requires, fails', async () => {
    const order = (await app.request('GET', '/orders/oa-2', undefined, merchant)).body;
    const validate = compile({ $ref: '#/components/schemas/Order' }, 'closed');
    expect(validate(order)).toBe(true);
    expect(validate({ ...order, surprise: 1 })).toBe(false);
    expect(validate({ ...order, refunds: [{ ...order.refunds[0], surprise: 1 }] })).toBe(false);
    const { createdAt: _, ...withoutCreatedAt } = order;
    expect(validate(withoutCreatedAt)).toBe(false);
  });

  it('was called on every operation of the API it documents, so each schema met a real answer', () => {
    // Webhooks and the events feed are checked for their shape above, and by their own e2e suites.
    const mine = operations().filter(({ op }) => !(op.tags ?? []).some((tag) => ['webhooks', 'events'].includes(tag)));
    expect(mine.map(({ key }) => key).filter((key) => !called.has(key))).toEqual([]);
  });
});

/** Points the document's component refs at the copy registered as `mode`; closes objects in the closed copy. */
function relink(schema: object, mode: 'open' | 'closed'): object {
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out[key] = value.replace(/^#\//, `${mode}#/`);
      else if (key === 'properties') out[key] = Object.fromEntries(Object.entries(value as object).map(([name, property]) => [name, visit(property)]));
      else out[key] = visit(value);
    }
    if (mode === 'closed' && out.type === 'object' && out.properties !== undefined && !('additionalProperties' in out)) out.additionalProperties = false;
    return out;
  };
  return visit(schema) as object;
}

/** The components as `mode`; a problem stays open in both (a type adds its own fields: orderStatus, remainingSeconds...). */
function relinkComponents(schemas: Record<string, object>, mode: 'open' | 'closed'): Record<string, object> {
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, relink(schema, name === 'Problem' ? 'open' : mode)]));
}
