/**
 * The sandbox gateway as a Nest module, mounted at `/sandbox`: imported by the main app
 * (in-process provider) or run alone by sandbox-main.ts.
 */
import { Module, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import { DEFAULT_RETURN_URL_ORIGINS, LOOPBACK_ORIGINS, OriginList, sameOrigin } from '../config/origins.js';
import { DEFAULT_MAX_TRADES, SandboxGateway, type SandboxGatewayOptions } from './sandbox-gateway.js';
import { SANDBOX_HTTP_OPTIONS, SandboxController, type SandboxHttpOptions } from './sandbox.controller.js';

export type SandboxModuleOptions = SandboxGatewayOptions & SandboxHttpOptions;

/** What the gateway run alone is: notified origins (SANDBOX_NOTIFY_ORIGINS) and return origins. */
export interface StandaloneSandboxOptions extends SandboxModuleOptions {
  readonly notifyOrigins: OriginList;
  readonly returnUrlOrigins: OriginList;
}

/**
 * Options of the gateway run alone, from the environment: SANDBOX_SECRET, SANDBOX_NOTIFY_DELAY_MS,
 * SANDBOX_MAX_TRADES, SANDBOX_NOTIFY_ORIGINS (default loopback only) and RETURN_URL_ORIGINS. It
 * serves the Payguard instances on SANDBOX_NOTIFY_ORIGINS, whose return pages are there too, so a
 * payer may be sent back to those origins or to RETURN_URL_ORIGINS.
 */
export function sandboxOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StandaloneSandboxOptions {
  const delay = env.SANDBOX_NOTIFY_DELAY_MS || '200';
  if (!/^\d+$/.test(delay)) throw new Error(`SANDBOX_NOTIFY_DELAY_MS must be a whole number of ms, got "${delay}"`);
  const maxTrades = env.SANDBOX_MAX_TRADES || String(DEFAULT_MAX_TRADES);
  if (!/^\d+$/.test(maxTrades) || Number(maxTrades) < 1 || Number(maxTrades) > 1_000_000) {
    throw new Error(`SANDBOX_MAX_TRADES must be a whole number from 1 to 1000000, got "${maxTrades}"`);
  }
  const notifyOrigins = originsFromEnv(env, 'SANDBOX_NOTIFY_ORIGINS', LOOPBACK_ORIGINS);
  const returnUrlOrigins = originsFromEnv(env, 'RETURN_URL_ORIGINS', DEFAULT_RETURN_URL_ORIGINS);
  return {
    secret: env.SANDBOX_SECRET || 'sandbox-dev-secret',
    notifyDelayMs: Number(delay),
    maxTrades: Number(maxTrades),
    notifyOrigins,
    returnUrlOrigins,
    notifyAllowed: (url) => notifyOrigins.allows(url),
    returnAllowed: (url) => notifyOrigins.allows(url) || returnUrlOrigins.allows(url),
  };
}

/**
 * Options of the gateway mounted in the service: it notifies only the service itself, sends
 * payers back to the service or to RETURN_URL_ORIGINS, and its pages are at PUBLIC_BASE_URL
 * (read when used: with PORT=0 it is known only once the service listens).
 */
export function inProcessSandboxOptions(options: {
  readonly secret: string;
  readonly notifyDelayMs: number;
  readonly maxTrades: number;
  readonly returnUrlOrigins: OriginList;
  readonly publicBaseUrl: () => string;
}): SandboxModuleOptions {
  const { publicBaseUrl, returnUrlOrigins, ...gateway } = options;
  return {
    ...gateway,
    notifyAllowed: (url) => sameOrigin(url, publicBaseUrl()),
    returnAllowed: (url) => sameOrigin(url, publicBaseUrl()) || returnUrlOrigins.allows(url),
    publicUrl: () => `${publicBaseUrl()}/sandbox`,
  };
}

function originsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: string): OriginList {
  try {
    return OriginList.parse(env[name]?.trim() || fallback);
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
}

@Module({})
export class SandboxModule implements OnModuleDestroy {
  constructor(private readonly gateway: SandboxGateway) {}

  static forRoot(options: SandboxModuleOptions): DynamicModule {
    const { publicUrl, secret, notifyDelayMs, now, fetch, notifyAllowed, returnAllowed, maxTrades } = options;
    const gateway: SandboxGatewayOptions = { secret, notifyDelayMs, now, fetch, notifyAllowed, returnAllowed, maxTrades };
    return {
      module: SandboxModule,
      controllers: [SandboxController],
      providers: [
        { provide: SandboxGateway, useFactory: () => new SandboxGateway(gateway) },
        { provide: SANDBOX_HTTP_OPTIONS, useValue: { publicUrl } satisfies SandboxHttpOptions },
      ],
      exports: [SandboxGateway],
    };
  }

  /** Pending notification retries must not outlive the app (or a test). */
  onModuleDestroy(): void {
    this.gateway.shutdown();
  }
}
