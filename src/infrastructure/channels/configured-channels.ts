/** The channels a configuration offers, built in one place for the service and the audit CLI. */
import type { PaymentChannel } from '../../application/ports/channel.port.js';
import type { AppConfig } from '../config/config.js';
import { AlipayChannel } from './alipay.channel.js';
import { SandboxChannel } from './sandbox.channel.js';
import { WechatpayChannel } from './wechatpay.channel.js';

/** The real providers that are configured (ALIPAY_*, WECHATPAY_*); their keys are read here, so a bad one stops the start. */
export function providerChannels(config: AppConfig, now: () => Date): PaymentChannel[] {
  return [
    ...(config.alipay === null ? [] : [new AlipayChannel({ ...config.alipay, now })]),
    ...(config.wechatpay === null ? [] : [new WechatpayChannel({ ...config.wechatpay, now })]),
  ];
}

/** The sandbox gateway's two providers, at `gatewayUrl` (the in-process gateway's, or SANDBOX_GATEWAY_URL). */
export function sandboxChannels(config: AppConfig, gatewayUrl: string): PaymentChannel[] {
  const common = { gatewayUrl, secret: config.sandboxSecret, timeoutMs: config.sandboxTimeoutMs };
  return [
    new SandboxChannel({ id: 'sandbox-bank', provider: 'bank', ...common }),
    new SandboxChannel({ id: 'sandbox-wallet', provider: 'wallet', ...common }),
  ];
}
