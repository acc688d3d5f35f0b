import { ConfigError, loadConfig, parseApiKeys } from '../../src/infrastructure/config/config.js';
import { OriginList } from '../../src/infrastructure/config/origins.js';

describe('configuration', () => {
  it('has the defaults of API.md', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      eventStore: 'sqlite',
      paymentMinValiditySeconds: 60,
      channelExpiryMarginSeconds: 30,
      sandboxSecret: 'sandbox-dev-secret',
      sandboxPort: 3100,
      sandboxNotifyDelayMs: 200,
      reconcileIntervalSeconds: 60,
      apiKeys: null,
    });
    expect(config.dataDir.endsWith('/data')).toBe(true);
  });
  it('reads merchant and auditor keys', () => {
    expect(parseApiKeys('k1:merchantA, k2:merchantB,k3:*:auditor')).toEqual([
      { key: 'k1', merchantId: 'merchantA', role: 'merchant' },
      { key: 'k2', merchantId: 'merchantB', role: 'merchant' },
      { key: 'k3', merchantId: '*', role: 'auditor' },
    ]);
  });
  it('refuses a malformed key entry without echoing the key', () => {
    expect(() => parseApiKeys('secretkey')).toThrow(ConfigError);
    expect(() => parseApiKeys('secretkey:m:admin')).toThrow(/\*\*\*/);
  });
  it.each([
    ['the same key twice for one merchant', 'k-other:merchantB,s3cr3t-key:merchantA,s3cr3t-key:merchantA', /entries 2 and 3 use the same key \(twice for merchant merchantA\)/],
    ['the same key for two merchants', 's3cr3t-key:merchantA,s3cr3t-key:merchantB', /entries 1 and 2 use the same key \(for merchant merchantA and for merchant merchantB\)/],
    ['the same key for a merchant and an auditor', 's3cr3t-key:merchantA,k2:*:operator,s3cr3t-key:*:auditor', /entries 1 and 3 use the same key \(for merchant merchantA and for auditor\)/],
  ])('refuses to start with %s, naming the entries and never the key', (_what, raw, message) => {
    expect(() => parseApiKeys(raw)).toThrow(ConfigError);
    expect(() => parseApiKeys(raw)).toThrow(message);
    expect(() => loadConfig({ API_KEYS: raw })).toThrow(ConfigError);
    let error: Error | undefined;
    try {
      loadConfig({ API_KEYS: raw });
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).not.toContain('s3cr3t-key');
  });
  it('takes one merchant with two keys (rotation)', () => {
    expect(parseApiKeys('old-key:merchantA,new-key:merchantA').map((key) => key.merchantId)).toEqual(['merchantA', 'merchantA']);
  });
  it('reads ALIPAY_SELLER_ID with the other alipay settings, and refuses it malformed or alone', () => {
    const alipay = { ALIPAY_APP_ID: '2021', ALIPAY_PRIVATE_KEY: 'k', ALIPAY_PUBLIC_KEY: 'p' };
    expect(loadConfig(alipay).alipay?.sellerId).toBeUndefined();
    expect(loadConfig({ ...alipay, ALIPAY_SELLER_ID: '2088000000000001' }).alipay?.sellerId).toBe('2088000000000001');
    expect(() => loadConfig({ ...alipay, ALIPAY_SELLER_ID: 'seller-1' })).toThrow(/ALIPAY_SELLER_ID/);
    expect(() => loadConfig({ ALIPAY_SELLER_ID: '2088000000000001' })).toThrow(ConfigError);
  });
  it('refuses a bad number or store', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ EVENT_STORE: 'mongo' })).toThrow(ConfigError);
  });
});

describe('the sandbox settings', () => {
  const keys = { API_KEYS: 'k1:merchantA,k2:*:operator' };

  it('turns the sandbox on by default only when the service runs open', () => {
    expect(loadConfig({})).toMatchObject({ sandboxEnabled: true, sandboxMaxTrades: 10_000 });
    expect(loadConfig({ API_KEYS: '' }).sandboxEnabled).toBe(true);
    expect(loadConfig(keys).sandboxEnabled).toBe(false);
    expect(loadConfig({ SANDBOX_ENABLED: 'false' }).sandboxEnabled).toBe(false);
    expect(loadConfig({ ...keys, SANDBOX_ENABLED: 'true', SANDBOX_SECRET: 'a-secret-of-our-own' }).sandboxEnabled).toBe(true);
  });

  it.each(['yes', 'TRUE', '1', 'on', 'False'])('refuses SANDBOX_ENABLED=%s: only true or false', (value) => {
    expect(() => loadConfig({ SANDBOX_ENABLED: value })).toThrow(ConfigError);
    expect(() => loadConfig({ SANDBOX_ENABLED: value })).toThrow(/SANDBOX_ENABLED must be true or false/);
  });

  it('refuses to turn the sandbox on with API keys and the public secret, unset or spelt out', () => {
    for (const secret of [{}, { SANDBOX_SECRET: '' }, { SANDBOX_SECRET: 'sandbox-dev-secret' }]) {
      expect(() => loadConfig({ ...keys, SANDBOX_ENABLED: 'true', ...secret })).toThrow(ConfigError);
      expect(() => loadConfig({ ...keys, SANDBOX_ENABLED: 'true', ...secret })).toThrow(/SANDBOX_SECRET/);
    }
    // Off, or open: the public secret is no risk to keyed callers.
    expect(() => loadConfig({ ...keys, SANDBOX_ENABLED: 'false' })).not.toThrow();
    expect(() => loadConfig({ SANDBOX_ENABLED: 'true' })).not.toThrow();
  });

  it('bounds SANDBOX_MAX_TRADES', () => {
    expect(loadConfig({ SANDBOX_MAX_TRADES: '3' }).sandboxMaxTrades).toBe(3);
    expect(() => loadConfig({ SANDBOX_MAX_TRADES: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ SANDBOX_MAX_TRADES: 'many' })).toThrow(ConfigError);
  });
});

describe('RETURN_URL_ORIGINS', () => {
  it('allows any https origin and loopback http by default', () => {
    const origins = loadConfig({}).returnUrlOrigins;
    for (const url of ['https://shop.example/orders/1', 'https://shop.example:8443/x', 'http://127.0.0.1:8080/back', 'http://localhost/back', 'http://[::1]:3000/']) {
      expect({ url, allowed: origins.allows(url) }).toEqual({ url, allowed: true });
    }
    for (const url of ['http://shop.example/orders/1', 'http://10.0.0.7/', 'javascript:alert(1)', 'ftp://shop.example/', 'not a url']) {
      expect({ url, allowed: origins.allows(url) }).toEqual({ url, allowed: false });
    }
  });

  it('allows exactly the origins listed', () => {
    const origins = loadConfig({ RETURN_URL_ORIGINS: ' https://shop.example, https://*.shop.example , http://127.0.0.1:* ' }).returnUrlOrigins;
    const allowed = ['https://shop.example/a', 'HTTPS://SHOP.EXAMPLE:443/a', 'https://pay.shop.example/a', 'https://a.b.shop.example/', 'http://127.0.0.1:9/'];
    const refused = [
      'https://evil.example/',
      'https://shop.example:8443/a',
      'https://shop.example.evil.example/',
      'https://evilshop.example/',
      'https://shop.example@evil.example/',
      'http://shop.example/',
      'http://localhost:9/',
    ];
    for (const url of allowed) expect({ url, allowed: origins.allows(url) }).toEqual({ url, allowed: true });
    for (const url of refused) expect({ url, allowed: origins.allows(url) }).toEqual({ url, allowed: false });
  });

  it.each(['shop.example', 'ftp://shop.example', 'https://shop.example/path', 'https://*shop.example', 'https://shop.example:99999', ','])(
    'refuses %p as a list of origins, naming the setting',
    (raw) => {
      expect(() => loadConfig({ RETURN_URL_ORIGINS: raw })).toThrow(ConfigError);
      expect(() => loadConfig({ RETURN_URL_ORIGINS: raw })).toThrow(/^RETURN_URL_ORIGINS: /);
    },
  );

  it('reads a list back as written', () => {
    expect(OriginList.parse('https://a.example, http://127.0.0.1:*').toString()).toBe('https://a.example,http://127.0.0.1:*');
  });
});
