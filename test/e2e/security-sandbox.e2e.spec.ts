/**
 * Safe to deploy: the sandbox gateway is a provider anyone can drive, so in a keyed service it is a
 * way in. Each test replays an attack that used to get through (a payer page and fault switches on
 * a production service, sandbox channels nobody pays on, faults set by anyone, notifications sent
 * to any address, trades without end, payers sent anywhere, pay pages on whatever host was named)
 * and checks that it is refused, with nothing appended to the log and no request sent out.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { startPayguard } from '../../src/infrastructure/bootstrap.js';
import { ConfigError } from '../../src/infrastructure/config/config.js';
import { expectProblem, expectValidationProblem, logHead } from '../support/contract.js';
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';
import { listenLocally } from '../support/local-server.js';
import { MAIN, ROOT, ensureBuilt } from '../support/processes.js';

const merchant = { authorization: 'Bearer sec-merchant-key' };
const auditor = { authorization: 'Bearer sec-auditor-key' };
const operator = { authorization: 'Bearer sec-operator-key' };
const API_KEYS = 'sec-merchant-key:merchantA,sec-auditor-key:*:auditor,sec-operator-key:*:operator';
const OWN_SECRET = 'security-e2e-sandbox-secret';

/** A would-be target of the gateway (an admin port, a metadata service): records every request it gets. */
async function target(): Promise<{ origin: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const { server, origin } = await listenLocally(() => async (request: IncomingMessage, response: ServerResponse) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(200).end();
  });
  return { origin, requests, close: () => closeServer(server) };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** Runs `send` and checks the log did not grow (read with `headers`, an auditor's key when the service is keyed). */
async function recordsNothing(app: TestApp, send: () => Promise<Answer>, headers: Record<string, string> = {}): Promise<Answer> {
  await app.settle();
  const before = await logHead(app, headers);
  const answer = await send();
  await app.settle();
  expect(await logHead(app, headers)).toBe(before);
  return answer;
}

/** A trade as the sandbox's merchant API takes it. */
function tradeBody(outTradeNo: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { outTradeNo, amount: 990, currency: 'CNY', timeExpire: new Date(Date.now() + 15 * 60_000).toISOString(), ...fields };
}

describe('npm start with API_KEYS and without SANDBOX_ENABLED: the sandbox is off', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ API_KEYS });
  });
  afterAll(() => app.close());

  it.each([
    ['GET', '/sandbox/pay/x', undefined],
    ['POST', '/sandbox/pay/x', undefined],
    ['GET', '/sandbox/faults', undefined],
    ['PUT', '/sandbox/faults', { ignoreTimeExpire: true, apiDown: true }],
    ['GET', '/sandbox/api/bank/trades', undefined],
    ['POST', '/sandbox/api/bank/trades', tradeBody('pay_nope', { notifyUrl: 'http://127.0.0.1:9/n', returnUrl: 'http://127.0.0.1:9/r' })],
  ])('mounts no %s %s: 404 not-found, as for any unknown path', async (method, path, body) => {
    const answer = await recordsNothing(app, () => app.request(method, path, body), auditor);
    expectProblem(answer, 404, 'not-found');
    // The same with a key: there is no such route, whoever asks.
    expectProblem(await app.request(method, path, body, operator), 404, 'not-found');
  });

  it('offers no sandbox channel: starting a payment on one is 400 validation "unknown channel", and nothing is recorded', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'sec-off-1', amount: 1999, currency: 'CNY' }, merchant)).status).toBe(201);
    for (const channel of ['sandbox-bank', 'sandbox-wallet']) {
      const answer = await recordsNothing(app, () => app.request('POST', '/orders/sec-off-1/payments', { channel }, merchant), auditor);
      expectValidationProblem(answer, 'channel');
      expect(JSON.stringify(answer.body.errors)).toContain('unknown channel');
    }
    expect((await app.request('GET', '/orders/sec-off-1', undefined, merchant)).body).toMatchObject({ status: 'pending', payments: [] });
  });

  it('says so in the start-up log: "sandbox: off (SANDBOX_ENABLED=false)", and lists the sandbox channels as off', async () => {
    const lines: string[] = [];
    const capture: LoggerService = {
      log: (message: unknown) => void lines.push(String(message)),
      warn: (message: unknown) => void lines.push(String(message)),
      error: (message: unknown) => void lines.push(String(message)),
    };
    const dataDir = mkdtempSync(join(tmpdir(), 'payguard-sec-log-'));
    const running = await startPayguard({ env: { PORT: '0', DATA_DIR: dataDir, API_KEYS }, host: '127.0.0.1', logger: capture });
    try {
      expect(lines).toContain('sandbox: off (SANDBOX_ENABLED=false)');
      expect(lines.find((line) => line.startsWith('channels on:'))).toBe(
        'channels on: none; off: sandbox-bank, sandbox-wallet (the sandbox is off), alipay (not configured), wechatpay (not configured)',
      );
      expect(running.channels.ids()).toEqual([]);
    } finally {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('SANDBOX_ENABLED=false with SANDBOX_GATEWAY_URL set', () => {
  it('offers no sandbox channel either, and the gateway never hears from the service', async () => {
    const gateway = await target();
    const app = await startTestApp({ SANDBOX_ENABLED: 'false', SANDBOX_GATEWAY_URL: `${gateway.origin}/sandbox` });
    try {
      expect((await app.request('POST', '/orders', { orderId: 'sec-off-2', amount: 500, currency: 'CNY' })).status).toBe(201);
      const answer = await recordsNothing(app, () => app.request('POST', '/orders/sec-off-2/payments', { channel: 'sandbox-wallet' }));
      expectValidationProblem(answer, 'channel');
      expectProblem(await app.request('GET', '/sandbox/faults'), 404, 'not-found');
      expect(gateway.requests).toEqual([]);
    } finally {
      await app.close();
      await gateway.close();
    }
  });
});

describe('SANDBOX_ENABLED=true with API_KEYS and the public sandbox secret', () => {
  it.each([
    ['SANDBOX_SECRET unset', {}],
    ['SANDBOX_SECRET set to the public default', { SANDBOX_SECRET: 'sandbox-dev-secret' }],
  ])('will not start (%s): anyone could sign a notification that marks an order paid', async (_, secret: Record<string, string>) => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'payguard-sec-start-')), 'data');
    try {
      const starting = startPayguard({ env: { PORT: '0', DATA_DIR: dataDir, API_KEYS, SANDBOX_ENABLED: 'true', ...secret }, host: '127.0.0.1', logger: false });
      await expect(starting).rejects.toBeInstanceOf(ConfigError);
      await expect(starting).rejects.toThrow(/SANDBOX_SECRET/);
      // Refused before anything was opened.
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });

  it('npm start exits 1 and says why', () => {
    ensureBuilt();
    const dataDir = mkdtempSync(join(tmpdir(), 'payguard-sec-main-'));
    try {
      const run = spawnSync(process.execPath, [MAIN], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', PORT: '0', DATA_DIR: dataDir, API_KEYS, SANDBOX_ENABLED: 'true' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/Payguard could not start: SANDBOX_ENABLED=true with API_KEYS set needs a SANDBOX_SECRET of its own/);
      expect(run.stderr + run.stdout).not.toContain('sec-merchant-key');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('SANDBOX_ENABLED=true with API_KEYS and a secret of its own', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ API_KEYS, SANDBOX_ENABLED: 'true', SANDBOX_SECRET: OWN_SECRET, RETURN_URL_ORIGINS: 'https://shop.example' });
  });
  afterAll(() => app.close());

  const faultsInForce = async () => (await app.request('GET', '/sandbox/faults')).body;

  describe('the fault switches', () => {
    afterEach(async () => {
      expect((await app.request('PUT', '/sandbox/faults', {}, operator)).status).toBe(200);
    });

    it('are not set by a caller without a key (401), however the path is spelt', async () => {
      for (const path of ['/sandbox/faults', '/SANDBOX/Faults', '/sandbox/faults/']) {
        const answer = await recordsNothing(app, () => app.request('PUT', path, { ignoreTimeExpire: true, apiDown: true }), auditor);
        expect({ path, status: answer.status }).toEqual({ path, status: 401 });
        expectProblem(answer, 401, 'unauthorized');
        expectProblem(await app.request('PUT', path, { ignoreTimeExpire: true }, { authorization: 'Bearer not-a-key' }), 401, 'unauthorized');
      }
      expect(await faultsInForce()).toMatchObject({ ignoreTimeExpire: false, apiDown: false });
    });

    it('are not set by a merchant or an auditor key (403 forbidden)', async () => {
      for (const headers of [merchant, auditor]) {
        const answer = await recordsNothing(app, () => app.request('PUT', '/sandbox/faults', { ignoreTimeExpire: true, apiDown: true }, headers), auditor);
        expectProblem(answer, 403, 'forbidden');
      }
      expect(await faultsInForce()).toMatchObject({ ignoreTimeExpire: false, apiDown: false });
    });

    it('are set by an operator key, and read by anyone', async () => {
      const set = await app.request('PUT', '/sandbox/faults', { ignoreTimeExpire: true }, operator);
      expect(set.status).toBe(200);
      expect(await faultsInForce()).toMatchObject({ ignoreTimeExpire: true, apiDown: false });
    });

    it('cap duplicateNotifications, so the gateway is no amplifier', async () => {
      expectValidationProblem(await app.request('PUT', '/sandbox/faults', { duplicateNotifications: 100 }, operator), 'duplicateNotifications');
    });
  });

  it("refuses a trade whose notifyUrl is not the service's own origin (400 NOTIFY_URL_NOT_ALLOWED), and the target hears nothing", async () => {
    const internal = await target();
    try {
      const foreign = [
        `${internal.origin}/admin/shutdown`,
        `${app.url.replace('127.0.0.1', 'localhost')}/channels/sandbox-bank/notifications`,
        'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      ];
      for (const [index, notifyUrl] of foreign.entries()) {
        const outTradeNo = `pay_sec_foreign_${index}`;
        const body = tradeBody(outTradeNo, { notifyUrl, returnUrl: `${app.url}/channels/sandbox-bank/return?paymentId=${outTradeNo}` });
        const answer = await recordsNothing(app, () => app.request('POST', '/sandbox/api/bank/trades', body), auditor);
        expect({ notifyUrl, status: answer.status, code: answer.body.code }).toEqual({ notifyUrl, status: 400, code: 'NOTIFY_URL_NOT_ALLOWED' });
        expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        // No trade was kept, so there is nothing to pay and nothing that could notify.
        expect((await app.request('GET', `/sandbox/api/bank/trades/${outTradeNo}`)).status).toBe(404);
        expect((await app.request('POST', `/sandbox/pay/${outTradeNo}`)).status).toBe(404);
      }

      // Meanwhile the gateway does notify the service: once that notification has arrived, the target still has heard nothing.
      expect((await app.request('POST', '/orders', { orderId: 'sec-notify', amount: 990, currency: 'CNY' }, merchant)).status).toBe(201);
      const payment = await app.request('POST', '/orders/sec-notify/payments', { channel: 'sandbox-bank' }, merchant);
      expect(payment.status).toBe(201);
      expect((await app.pay(payment.body.paymentId)).status).toBe(200);
      await eventually(() => app.request('GET', '/orders/sec-notify', undefined, merchant), (answer) => answer.body.status === 'paid', 10_000, 'order paid');
      expect(internal.requests).toEqual([]);
    } finally {
      await internal.close();
    }
  });

  it("refuses a trade that would send the payer outside RETURN_URL_ORIGINS and the service (400 RETURN_URL_NOT_ALLOWED): the pay page is no open redirect", async () => {
    for (const [index, returnUrl] of ['https://evil.example/login', 'http://shop.example/back', 'https://shop.example.evil.example/'].entries()) {
      const body = tradeBody(`pay_sec_return_${index}`, { notifyUrl: `${app.url}/channels/sandbox-bank/notifications`, returnUrl });
      const answer = await recordsNothing(app, () => app.request('POST', '/sandbox/api/bank/trades', body), auditor);
      expect({ returnUrl, status: answer.status, code: answer.body.code }).toEqual({ returnUrl, status: 400, code: 'RETURN_URL_NOT_ALLOWED' });
    }
  });

  it('refuses a returnUrl outside RETURN_URL_ORIGINS: 400 validation naming returnUrl, and nothing is recorded', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'sec-return', amount: 1200, currency: 'CNY' }, merchant)).status).toBe(201);
    for (const returnUrl of ['https://evil.example/phish', 'https://shop.example.evil.example/', 'https://shop.example@evil.example/', 'http://shop.example/orders/1']) {
      const answer = await recordsNothing(app, () => app.request('POST', '/orders/sec-return/payments', { channel: 'sandbox-bank', returnUrl }, merchant), auditor);
      expectValidationProblem(answer, 'returnUrl');
    }
    expect((await app.request('GET', '/orders/sec-return', undefined, merchant)).body).toMatchObject({ status: 'pending', payments: [] });

    // On an allowed origin: the payer comes back to the shop.
    const allowed = await app.request('POST', '/orders/sec-return/payments', { channel: 'sandbox-bank', returnUrl: 'https://shop.example/orders/sec-return' }, merchant);
    expect(allowed.status).toBe(201);
    const back = await app.request('GET', `/channels/sandbox-bank/return?paymentId=${allowed.body.paymentId}`, undefined, { accept: 'text/html' });
    expect(back.status).toBe(302);
    expect(new URL(back.headers.get('location') ?? '').origin).toBe('https://shop.example');
  });
});

describe('the sandbox trades', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ SANDBOX_MAX_TRADES: '3' });
  });
  afterAll(() => app.close());

  it('are bounded: a flood of trades is answered 503 SANDBOX_FULL once none can be forgotten, and a final one makes room', async () => {
    const create = (outTradeNo: string) =>
      app.request(
        'POST',
        '/sandbox/api/wallet/trades',
        tradeBody(outTradeNo, { notifyUrl: `${app.url}/channels/sandbox-wallet/notifications`, returnUrl: `${app.url}/channels/sandbox-wallet/return` }),
      );
    for (const id of ['pay_flood_1', 'pay_flood_2', 'pay_flood_3']) expect((await create(id)).status).toBe(201);
    for (const id of ['pay_flood_4', 'pay_flood_5']) {
      const full = await recordsNothing(app, () => create(id));
      expect({ status: full.status, code: full.body.code }).toEqual({ status: 503, code: 'SANDBOX_FULL' });
      expect((await app.request('GET', `/sandbox/api/wallet/trades/${id}`)).status).toBe(404);
    }
    // A closed trade is final: the oldest such is forgotten to make room.
    expect((await app.request('POST', '/sandbox/api/wallet/trades/pay_flood_2/close')).status).toBe(200);
    expect((await create('pay_flood_4')).status).toBe(201);
    const kept = await app.request('GET', '/sandbox/api/wallet/trades');
    expect(kept.body.trades.map((trade: { outTradeNo: string }) => trade.outTradeNo)).toEqual(['pay_flood_1', 'pay_flood_3', 'pay_flood_4']);
  });
});

describe('the payUrl of the in-process sandbox', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ PUBLIC_BASE_URL: 'https://payguard.example/' });
  });
  afterAll(() => app.close());

  it('is on PUBLIC_BASE_URL', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'sec-payurl', amount: 300, currency: 'CNY' })).status).toBe(201);
    const payment = await app.request('POST', '/orders/sec-payurl/payments', { channel: 'sandbox-wallet' });
    expect(payment.status).toBe(201);
    expect(payment.body.payUrl).toBe(`https://payguard.example/sandbox/pay/${payment.body.paymentId}`);
  });

  it('is not on whatever Host the create-trade call named', async () => {
    const body = JSON.stringify(
      tradeBody('pay_sec_host', {
        notifyUrl: 'https://payguard.example/channels/sandbox-bank/notifications',
        returnUrl: 'https://payguard.example/channels/sandbox-bank/return?paymentId=pay_sec_host',
      }),
    );
    const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const call = httpRequest(`${app.url}/sandbox/api/bank/trades`, { method: 'POST', headers: { host: 'evil.example', 'content-type': 'application/json' } }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
      });
      call.on('error', reject);
      call.end(body);
    });
    expect(answer.status).toBe(201);
    expect(answer.body.payUrl).toBe('https://payguard.example/sandbox/pay/pay_sec_host');
  });
});

describe("the provider's pay page", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it("can't be posted from another site's page (no form token): nothing is paid", async () => {
    expect((await app.request('POST', '/orders', { orderId: 'sec-csrf', amount: 300, currency: 'CNY' })).status).toBe(201);
    const { paymentId } = (await app.request('POST', '/orders/sec-csrf/payments', { channel: 'sandbox-bank' })).body;
    const form = { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' };
    for (const body of ['outcome=success', 'outcome=success&csrf=forged', '']) {
      const refused = await app.request('POST', `/sandbox/pay/${paymentId}`, body, form);
      expect(refused.status).toBe(403);
    }
    // A simple cross-site request without a content type is refused the same way.
    const bare = await fetch(`${app.url}/sandbox/pay/${paymentId}`, { method: 'POST' });
    await bare.text();
    expect(bare.status).toBe(403);
    expect((await app.request('GET', `/sandbox/api/bank/trades/${paymentId}`)).body.status).toBe('WAIT_PAY');

    // The page's own form carries the token, and pays.
    const page = await fetch(`${app.url}/sandbox/pay/${paymentId}`).then((response) => response.text());
    const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    expect(token).toBeDefined();
    const paid = await app.request('POST', `/sandbox/pay/${paymentId}`, `outcome=success&csrf=${encodeURIComponent(token!)}`, {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
    });
    expect(paid.status).toBe(303);
    expect((await app.request('GET', `/sandbox/api/bank/trades/${paymentId}`)).body.status).toBe('PAID');
  });
});
