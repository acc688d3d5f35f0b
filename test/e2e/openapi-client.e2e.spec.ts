/**
 * A client generated from the live /openapi.json, as a merchant would make one: openapi-typescript
 * writes the types, openapi-fetch calls the service with them. The client compiles under strict
 * TypeScript (and a wrong call does not), then runs in its own Node process against the service,
 * over a socket with an API key: it places an order and reads it back.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { startTestApp, type TestApp } from '../support/harness.js';

const run = promisify(execFile);

/** What a merchant writes against the generated types. */
const CLIENT = `import createClient from 'openapi-fetch';
import type { components, paths } from './payguard.js';

// Node's own types are left out of this tiny project (they would take most of tsc's time).
declare const process: { env: Record<string, string | undefined> };

type Order = components['schemas']['Order'];
type Problem = components['schemas']['Problem'];

const client = createClient<paths>({ baseUrl: process.env.PAYGUARD_URL!, headers: { authorization: \`Bearer \${process.env.PAYGUARD_KEY}\` } });

function fail(problem: Problem): never {
  throw new Error(\`\${problem.status} \${problem.type}: \${problem.detail}\`);
}

const placed = await client.POST('/orders', {
  body: { amount: 1999, currency: 'CNY', expiresInSeconds: 900, description: 'Tea set' },
  headers: { 'Idempotency-Key': 'client-e2e-1' },
});
if (placed.error !== undefined) fail(placed.error);
const order: Order = placed.data;

const read = await client.GET('/orders/{orderId}', { params: { path: { orderId: order.orderId } } });
if (read.error !== undefined) fail(read.error);

const missing = await client.GET('/orders/{orderId}', { params: { path: { orderId: 'no-such-order' } } });
const page = await client.GET('/orders', { params: { query: { status: 'pending', limit: 10 } } });

console.log(JSON.stringify({
  placed: { status: placed.response.status, order },
  read: { status: read.response.status, order: read.data },
  missing: { status: missing.response.status, type: missing.error?.type },
  list: { status: page.response.status },
}));
`;

/** Calls the generated types must refuse: a body without its amount, a limit as text. */
const WRONG = `import createClient from 'openapi-fetch';
import type { paths } from './payguard.js';

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:1' });
await client.POST('/orders', { body: { currency: 'CNY' } });
await client.GET('/orders', { params: { query: { limit: 'ten' } } });
`;

describe('a client generated from /openapi.json', () => {
  let app: TestApp;
  let dir: string;

  beforeAll(async () => {
    app = await startTestApp({ API_KEYS: 'key-shop:shop', SANDBOX_ENABLED: 'true', SANDBOX_SECRET: 'openapi-client-e2e-sandbox-secret' });
    dir = mkdtempSync(join(tmpdir(), 'payguard-client-'));
    // The client's project resolves openapi-fetch from this repository's node_modules.
    symlinkSync(resolve('node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  });

  afterAll(async () => {
    await app?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('compiles with strict TypeScript, refuses wrong calls, and places an order and reads it back', async () => {
    const document = (await app.request('GET', '/openapi.json')).body;
    writeFileSync(join(dir, 'payguard.d.ts'), astToString(await openapiTS(document)));
    writeFileSync(join(dir, 'client.ts'), CLIENT);
    writeFileSync(join(dir, 'wrong.ts'), WRONG);

    const program = ts.createProgram([join(dir, 'client.ts'), join(dir, 'wrong.ts')], {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
      skipLibCheck: true,
      outDir: join(dir, 'out'),
    });
    const problems = (file: string) =>
      ts.getPreEmitDiagnostics(program, program.getSourceFile(join(dir, file))).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems('client.ts')).toEqual([]);
    const refused = problems('wrong.ts');
    expect(refused).toEqual([expect.stringContaining("'amount'"), expect.stringMatching(/'string' is not assignable to type 'number'/)]);
    expect(program.emit(program.getSourceFile(join(dir, 'client.ts'))).emitSkipped).toBe(false);

    const { stdout } = await run(process.execPath, [join(dir, 'out', 'client.js')], {
      env: { PATH: process.env.PATH, PAYGUARD_URL: app.url, PAYGUARD_KEY: 'key-shop' },
      timeout: 20_000,
    });
    const result = JSON.parse(stdout);
    expect(result.placed).toEqual({
      status: 201,
      order: expect.objectContaining({ status: 'pending', amount: 1999, currency: 'CNY', description: 'Tea set', payments: [], refunds: [], anomalies: [] }),
    });
    expect(result.read).toEqual({ status: 200, order: result.placed.order });
    expect(result.missing).toEqual({ status: 404, type: 'https://payguard.dev/problems/not-found' });
    expect(result.list).toEqual({ status: 200 });
    // The order is really there, for the service's own reader too.
    const stored = await app.request('GET', `/orders/${result.placed.order.orderId}`, undefined, { authorization: 'Bearer key-shop' });
    expect(stored.body).toEqual(result.placed.order);
  }, 120_000);
});
