/** Configuration from the environment (the table in API.md), checked once at start-up. */
import { resolve } from 'node:path';
import { DEFAULT_RETURN_URL_ORIGINS, OriginList } from './origins.js';
import { canonicalTimeZone } from '../../application/reporting/report-days.js';

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
  /** SANDBOX_ENABLED: the sandbox gateway (in-process or at SANDBOX_GATEWAY_URL) and its channels are offered. */
  readonly sandboxEnabled: boolean;
  /** How many trades the in-process sandbox gateway keeps (SANDBOX_MAX_TRADES). */
  readonly sandboxMaxTrades: number;
  /** Where payers may be sent back to: a payment's returnUrl, and the sandbox's redirect after paying. */
  readonly returnUrlOrigins: OriginList;
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
  /** How long the SQLite store's start-up integrity check (PRAGMA quick_check) may take before it is cut short. */
  readonly storeCheckBudgetMs: number;
  /** SIGTERM: how long in-flight requests may still finish before the process exits anyway. */
  readonly shutdownGraceMs: number;
  /** CHECKOUT_SECRET: the key of the checkout session tokens' HMAC; null: a random one per process (sessions end at a restart). */
  readonly checkoutSecret: string | null;
  /** How long a checkout session lives on after its order ended, to show the payer the result. */
  readonly checkoutGraceSeconds: number;
  /** WEBHOOK_ALLOW_PRIVATE: webhooks may go to private, loopback and link-local addresses (development, tests). */
  readonly webhookAllowPrivate: boolean;
  /** REPORT_TIMEZONE: the IANA zone whose days the reports are by (the providers' statement day). */
  readonly reportTimeZone: string;
  /** Null: ALIPAY_* is not set, and the alipay channel is not offered. */
  readonly alipay: AlipayConfig | null;
  /** Null: WECHATPAY_* is not set, and the wechatpay channel is not offered. */
  readonly wechatpay: WechatpayConfig | null;
  /** LOG_LEVEL: the least severe JSON log line written (`info` writes the access log, `warn` does not). */
  readonly logLevel: LogLevelName;
  /** METRICS_ENABLED=false: no request, channel or business metrics are kept (/metrics serves process metrics only). */
  readonly metricsEnabled: boolean;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface AlipayConfig {
  readonly appId: string;
  /** The app's private key (PEM, or the bare base64 the Alipay console shows). */
  readonly privateKey: string;
  /** Alipay's public key (PEM or bare base64), which signs notifications and answers. */
  readonly alipayPublicKey: string;
  /** e.g. https://openapi.alipay.com/gateway.do */
  readonly gatewayUrl: string;
  /** ALIPAY_SELLER_ID: the seller (PID, 2088 and 12 digits) whose money this app takes; absent: not checked. */
  readonly sellerId?: string;
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
  const apiKeys = env.API_KEYS ? parseApiKeys(env.API_KEYS) : null;
  return {
    ...sandboxSettings(env, apiKeys !== null),
    port: integer(env, 'PORT', 3000, 0, 65535),
    eventStore,
    dataDir: resolve(env.DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL || null,
    databaseSchema: env.DATABASE_SCHEMA || 'payguard',
    eventstoreUrl: env.EVENTSTORE_URL || null,
    paymentMinValiditySeconds: integer(env, 'PAYMENT_MIN_VALIDITY_SECONDS', 60, 1, 86_400),
    channelExpiryMarginSeconds: integer(env, 'CHANNEL_EXPIRY_MARGIN_SECONDS', 30, 0, 86_400),
    publicBaseUrl: env.PUBLIC_BASE_URL ? env.PUBLIC_BASE_URL.replace(/\/+$/, '') : null,
    sandboxGatewayUrl: env.SANDBOX_GATEWAY_URL ? env.SANDBOX_GATEWAY_URL.replace(/\/+$/, '') : null,
    sandboxPort: integer(env, 'SANDBOX_PORT', 3100, 0, 65535),
    sandboxNotifyDelayMs: integer(env, 'SANDBOX_NOTIFY_DELAY_MS', 200, 0, 3_600_000),
    reconcileIntervalSeconds: integer(env, 'RECONCILE_INTERVAL_SECONDS', 60, 1, 86_400),
    tradeWatchSeconds: integer(env, 'TRADE_WATCH_SECONDS', 86_400, 0, 90 * 86_400),
    refundMaxAttempts: integer(env, 'REFUND_MAX_ATTEMPTS', 20, 1, 1000),
    sandboxTimeoutMs: integer(env, 'SANDBOX_TIMEOUT_MS', 5_000, 100, 120_000),
    apiKeys,
    returnUrlOrigins: origins(env, 'RETURN_URL_ORIGINS', DEFAULT_RETURN_URL_ORIGINS),
    expiryCloseBudgetMs: integer(env, 'EXPIRY_CLOSE_BUDGET_MS', 600, 50, 60_000),
    storeCheckBudgetMs: integer(env, 'STORE_CHECK_BUDGET_MS', 5_000, 0, 3_600_000),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    checkoutSecret: checkoutSecret(env),
    checkoutGraceSeconds: integer(env, 'CHECKOUT_GRACE_SECONDS', 1800, 0, 7 * 86_400),
    webhookAllowPrivate: webhookAllowPrivate(env),
    reportTimeZone: timeZone(env, 'REPORT_TIMEZONE', 'Asia/Shanghai'),
    alipay: alipayConfig(env),
    wechatpay: wechatpayConfig(env),
    logLevel: logLevel(env),
    metricsEnabled: flag(env, 'METRICS_ENABLED', true),
  };
}

function logLevel(env: Env): LogLevelName {
  const raw = env.LOG_LEVEL?.trim().toLowerCase() || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not ${env.LOG_LEVEL}`);
  return raw as LogLevelName;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim() ?? '';
  if (raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, not ${raw}`);
  return raw === 'true';
}

/** The sandbox's public development secret: with it anyone can sign sandbox notifications. */
export const DEFAULT_SANDBOX_SECRET = 'sandbox-dev-secret';

/**
 * The sandbox is on by default only when the service runs open. On with API keys, it must have a
 * secret of its own: with the public one anyone could sign a notification that marks an order paid.
 */
function sandboxSettings(env: Env, keyed: boolean): Pick<AppConfig, 'sandboxEnabled' | 'sandboxSecret' | 'sandboxMaxTrades'> {
  const raw = env.SANDBOX_ENABLED ?? '';
  if (raw !== '' && raw !== 'true' && raw !== 'false') throw new ConfigError(`SANDBOX_ENABLED must be true or false, not ${raw}`);
  const sandboxEnabled = raw === '' ? !keyed : raw === 'true';
  const sandboxSecret = env.SANDBOX_SECRET || DEFAULT_SANDBOX_SECRET;
  if (sandboxEnabled && keyed && sandboxSecret === DEFAULT_SANDBOX_SECRET) {
    throw new ConfigError(
      `SANDBOX_ENABLED=true with API_KEYS set needs a SANDBOX_SECRET of its own: the default (${DEFAULT_SANDBOX_SECRET}) is public, and anyone could sign sandbox notifications with it`,
    );
  }
  return { sandboxEnabled, sandboxSecret, sandboxMaxTrades: integer(env, 'SANDBOX_MAX_TRADES', 10_000, 1, 1_000_000) };
}

/** WEBHOOK_ALLOW_PRIVATE=true lets webhooks go to private, loopback and link-local receivers: for development and tests only. */
function webhookAllowPrivate(env: Env): boolean {
  const raw = env.WEBHOOK_ALLOW_PRIVATE?.trim() ?? '';
  if (raw !== '' && raw !== 'true' && raw !== 'false') throw new ConfigError(`WEBHOOK_ALLOW_PRIVATE must be true or false, not ${raw}`);
  return raw === 'true';
}

/** At least 32 characters: the HMAC key of the checkout sessions, which anyone holding it could forge. */
function checkoutSecret(env: Env): string | null {
  const secret = env.CHECKOUT_SECRET?.trim() || null;
  if (secret !== null && secret.length < 32) throw new ConfigError('CHECKOUT_SECRET must be at least 32 characters (e.g. openssl rand -hex 32)');
  return secret;
}

/** An IANA time zone the runtime knows (Intl), in its canonical spelling. */
function timeZone(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  const zone = canonicalTimeZone(raw);
  if (zone === null) throw new ConfigError(`${name} must be an IANA time zone such as Asia/Shanghai or UTC, not ${raw}`);
  return zone;
}

function origins(env: Env, name: string, fallback: string): OriginList {
  try {
    return OriginList.parse(env[name]?.trim() || fallback);
  } catch (error) {
    throw new ConfigError(`${name}: ${(error as Error).message}`);
  }
}

function alipayConfig(env: Env): AlipayConfig | null {
  const values = channelSettings(env, 'alipay', ['ALIPAY_APP_ID', 'ALIPAY_PRIVATE_KEY', 'ALIPAY_PUBLIC_KEY']);
  const sellerId = env.ALIPAY_SELLER_ID?.trim() || undefined;
  if (values === null) {
    if (sellerId !== undefined) throw new ConfigError('ALIPAY_SELLER_ID is set but alipay is not: set ALIPAY_APP_ID, ALIPAY_PRIVATE_KEY and ALIPAY_PUBLIC_KEY too, or unset it');
    return null;
  }
  if (sellerId !== undefined && !/^2088\d{12}$/.test(sellerId)) throw new ConfigError('ALIPAY_SELLER_ID must be an Alipay seller id (PID): 2088 and 12 digits');
  const [appId, privateKey, alipayPublicKey] = values;
  return {
    appId,
    privateKey,
    alipayPublicKey,
    gatewayUrl: url(env, 'ALIPAY_GATEWAY_URL', 'https://openapi.alipay.com/gateway.do'),
    ...(sellerId !== undefined && { sellerId }),
  };
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
  const keys: ApiKey[] = raw
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
  refuseRepeatedKeys(keys);
  return keys;
}

/**
 * One key, one holder: a key given twice (for one merchant or two, or two roles) would leave who
 * is calling to the order of the list. Names the entries and their holders, never the key.
 */
function refuseRepeatedKeys(keys: readonly ApiKey[]): void {
  const first = new Map<string, number>();
  keys.forEach(({ key }, index) => {
    const earlier = first.get(key);
    if (earlier === undefined) return void first.set(key, index);
    const holder = (entry: ApiKey) => (entry.role === 'merchant' ? `merchant ${entry.merchantId}` : entry.role);
    const same = holder(keys[earlier]) === holder(keys[index]);
    throw new ConfigError(
      `API_KEYS entries ${earlier + 1} and ${index + 1} use the same key (${same ? `twice for ${holder(keys[index])}` : `for ${holder(keys[earlier])} and for ${holder(keys[index])}`}): give every holder a key of its own, once`,
    );
  });
}
