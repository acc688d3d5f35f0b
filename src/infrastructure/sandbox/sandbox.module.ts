/**
 * The sandbox gateway as a Nest module, mounted at `/sandbox`: imported by the main app
 * (in-process provider) or run alone by sandbox-main.ts.
 */
import { Module, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import { SandboxGateway, type SandboxGatewayOptions } from './sandbox-gateway.js';
import { SANDBOX_HTTP_OPTIONS, SandboxController, type SandboxHttpOptions } from './sandbox.controller.js';

export type SandboxModuleOptions = SandboxGatewayOptions & SandboxHttpOptions;

/** Options from the environment: SANDBOX_SECRET and SANDBOX_NOTIFY_DELAY_MS. */
export function sandboxOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SandboxModuleOptions {
  const delay = env.SANDBOX_NOTIFY_DELAY_MS ?? '200';
  if (!/^\d+$/.test(delay)) throw new Error(`SANDBOX_NOTIFY_DELAY_MS must be a whole number of ms, got "${delay}"`);
  return { secret: env.SANDBOX_SECRET || 'sandbox-dev-secret', notifyDelayMs: Number(delay) };
}

@Module({})
export class SandboxModule implements OnModuleDestroy {
  constructor(private readonly gateway: SandboxGateway) {}

  static forRoot(options: SandboxModuleOptions): DynamicModule {
    const { publicUrl, ...gateway } = options;
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
