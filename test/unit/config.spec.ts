import { ConfigError, loadConfig, parseApiKeys } from '../../src/infrastructure/config/config.js';

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
  it('refuses a bad number or store', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ EVENT_STORE: 'mongo' })).toThrow(ConfigError);
  });
});
