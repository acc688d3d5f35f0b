/** Configuration from the environment (the table in API.md), checked once at start-up. */
import { resolve } from 'node:path';

export type EventStoreKind = 'sqlite' | 'memory' | 'postgres' | 'eventstoredb';

export interface ApiKey {
  readonly key: string;
  readonly merchantId: string;
  readonly role: 'merchant' | 'auditor' | 'operator';
}

export interface AppConfig {
  readonly port: number;
  readonly eventStore: EventStoreKind;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  /** PostgreSQL schema of the event store (instances sharing one schema share one log). */
  readonly databaseSchema: string;
  readonly eventstoreUrl: string | null;
  readonly paymentMinValiditySeconds: number;
  readonly channelExpiryMarginSeconds: number;
  /** Null: the address the service listens on, once it listens. */
  readonly publicBaseUrl: string | null;
  readonly sandboxSecret: string;
  /** Null: the gateway is mounted in this service at /sandbox. */
  readonly sandboxGatewayUrl: string | null;
  readonly sandboxPort: number;
  readonly sandboxNotifyDelayMs: number;
  readonly reconcileIntervalSeconds: number;
  /** How long a trade recorded closed (or failed, or never created) is still asked about after its timeExpire. */
  readonly tradeWatchSeconds: number;
  /** Transient refund failures before a refund is given up as failed (an open item for an operator). */
  readonly refundMaxAttempts: number;
  /** How long a sandbox channel waits for the gateway's answer before it counts the gateway unreachable. */
  readonly sandboxTimeoutMs: number;
  /** Null: the service runs open (no authentication), for local use. */
  readonly apiKeys: readonly ApiKey[] | null;
  readonly expiryCloseBudgetMs: number;
  /** Null: ALIPAY_* is not set, and the alipay channel is not offered. */
  readonly alipay: AlipayConfig | null;
  /** Null: WECHATPAY_* is not set, and the wechatpay channel is not offered. */
  readonly wechatpay: WechatpayConfig | null;
}

export interface AlipayConfig {
  readonly appId: string;
  /** The app's private key (PEM, or the bare base64 the Alipay console shows). */
  readonly privateKey: string;
  /** Alipay's public key (PEM or bare base64), which signs notifications and answers. */
  readonly alipayPublicKey: string;
  /** e.g. https://openapi.alipay.com/gateway.do */
  readonly gatewayUrl: string;
}

export interface WechatpayConfig {
  readonly mchid: string;
  readonly appid: string;
  /** The APIv3 key (32 characters) that encrypts notification resources. */
  readonly apiV3Key: string;
  /** The merchant API private key (apiclient_key.pem) and its certificate's serial number. */
  readonly privateKey: string;
  readonly certSerial: string;
  /** The platform key (or WeChat Pay public key) that signs answers and notifications, and its serial / key id. */
  readonly platformPublicKey: string;
  readonly platformSerial: string;
  /** e.g. https://api.mch.weixin.qq.com */
  readonly baseUrl: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): AppConfig {
  const eventStore = (env.EVENT_STORE ?? 'sqlite') as EventStoreKind;
  if (!['sqlite', 'memory', 'postgres', 'eventstoredb'].includes(eventStore)) {
    throw new ConfigError(`EVENT_STORE must be sqlite, postgres, eventstoredb or memory, not ${eventStore}`);
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    eventStore,
    dataDir: resolve(env.DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL || null,
    databaseSchema: env.DATABASE_SCHEMA || 'payguard',
    eventstoreUrl: env.EVENTSTORE_URL || null,
    paymentMinValiditySeconds: integer(env, 'PAYMENT_MIN_VALIDITY_SECONDS', 60, 1, 86_400),
    channelExpiryMarginSeconds: integer(env, 'CHANNEL_EXPIRY_MARGIN_SECONDS', 30, 0, 86_400),
    publicBaseUrl: env.PUBLIC_BASE_URL ? env.PUBLIC_BASE_URL.replace(/\/+$/, '') : null,
    sandboxSecret: env.SANDBOX_SECRET || 'sandbox-dev-secret',
    sandboxGatewayUrl: env.SANDBOX_GATEWAY_URL ? env.SANDBOX_GATEWAY_URL.replace(/\/+$/, '') : null,
    sandboxPort: integer(env, 'SANDBOX_PORT', 3100, 0, 65535),
    sandboxNotifyDelayMs: integer(env, 'SANDBOX_NOTIFY_DELAY_MS', 200, 0, 3_600_000),
    reconcileIntervalSeconds: integer(env, 'RECONCILE_INTERVAL_SECONDS', 60, 1, 86_400),
    tradeWatchSeconds: integer(env, 'TRADE_WATCH_SECONDS', 86_400, 0, 90 * 86_400),
    refundMaxAttempts: integer(env, 'REFUND_MAX_ATTEMPTS', 20, 1, 1000),
    sandboxTimeoutMs: integer(env, 'SANDBOX_TIMEOUT_MS', 5_000, 100, 120_000),
    apiKeys: env.API_KEYS ? parseApiKeys(env.API_KEYS) : null,
    expiryCloseBudgetMs: integer(env, 'EXPIRY_CLOSE_BUDGET_MS', 600, 50, 60_000),
    alipay: alipayConfig(env),
    wechatpay: wechatpayConfig(env),
  };
}

function alipayConfig(env: Env): AlipayConfig | null {
  const values = channelSettings(env, 'alipay', ['ALIPAY_APP_ID', 'ALIPAY_PRIVATE_KEY', 'ALIPAY_PUBLIC_KEY']);
  if (values === null) return null;
  const [appId, privateKey, alipayPublicKey] = values;
  return { appId, privateKey, alipayPublicKey, gatewayUrl: url(env, 'ALIPAY_GATEWAY_URL', 'https://openapi.alipay.com/gateway.do') };
}

function wechatpayConfig(env: Env): WechatpayConfig | null {
  const names = [
    'WECHATPAY_MCHID',
    'WECHATPAY_APPID',
    'WECHATPAY_API_V3_KEY',
    'WECHATPAY_PRIVATE_KEY',
    'WECHATPAY_CERT_SERIAL',
    'WECHATPAY_PLATFORM_PUBLIC_KEY',
    'WECHATPAY_PLATFORM_SERIAL',
  ];
  const values = channelSettings(env, 'wechatpay', names);
  if (values === null) return null;
  const [mchid, appid, apiV3Key, privateKey, certSerial, platformPublicKey, platformSerial] = values;
  if (Buffer.byteLength(apiV3Key, 'utf8') !== 32) throw new ConfigError('WECHATPAY_API_V3_KEY must be the 32-character APIv3 key');
  const baseUrl = url(env, 'WECHATPAY_BASE_URL', 'https://api.mch.weixin.qq.com');
  return { mchid, appid, apiV3Key, privateKey, certSerial, platformPublicKey, platformSerial, baseUrl };
}

/** None set: the channel is off. Some set: a mistake worth stopping for (names only, never values). */
function channelSettings(env: Env, channel: string, names: readonly string[]): string[] | null {
  const values = names.map((name) => env[name]?.trim() ?? '');
  const missing = names.filter((_, index) => values[index] === '');
  if (missing.length === names.length) return null;
  if (missing.length > 0) throw new ConfigError(`${channel} is partly configured: set ${missing.join(', ')} too, or none of its settings`);
  return values;
}

function url(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  if (!/^https?:\/\/[^\s]+$/.test(raw)) throw new ConfigError(`${name} must be an http(s) URL`);
  return raw.replace(/\/+$/, '');
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, not ${raw}`);
  }
  return value;
}

/** `key1:merchantA,key2:merchantB,key3:*:auditor,key4:*:operator` */
export function parseApiKeys(raw: string): ApiKey[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [key, merchantId, role, ...rest] = entry.split(':');
      if (!key || !merchantId || rest.length > 0 || (role !== undefined && role !== 'auditor' && role !== 'operator')) {
        throw new ConfigError(`API_KEYS entry "${entry.replace(/^[^:]*/, '***')}" must be key:merchant, key:*:auditor or key:*:operator`);
      }
      if (role !== undefined && merchantId !== '*') throw new ConfigError(`an ${role} key is written key:*:${role}`);
      if (role === undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(merchantId)) {
        throw new ConfigError(`merchant id ${merchantId} must be 1-64 characters of [A-Za-z0-9_-]`);
      }
      return { key, merchantId, role: role ?? 'merchant' };
    });
}
