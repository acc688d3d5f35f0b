import type { PaymentChannel } from './channel.port.js';

/** The channels this instance offers (a channel whose configuration is missing is not offered). */
export interface ChannelRegistry {
  get(channelId: string): PaymentChannel | undefined;
  ids(): string[];
}

export const CHANNEL_REGISTRY = Symbol('ChannelRegistry');
