import type { ChannelRegistry } from '../../application/ports/channel-registry.port.js';
import type { PaymentChannel } from '../../application/ports/channel.port.js';

export class InMemoryChannelRegistry implements ChannelRegistry {
  private readonly channels = new Map<string, PaymentChannel>();
  private decorate: (channel: PaymentChannel) => PaymentChannel = (channel) => channel;

  constructor(channels: readonly PaymentChannel[] = []) {
    for (const channel of channels) this.register(channel);
  }

  /** Wraps every channel registered from now on (the metrics count and time each provider call here). */
  decorateWith(decorate: (channel: PaymentChannel) => PaymentChannel): void {
    this.decorate = decorate;
  }

  register(channel: PaymentChannel): void {
    this.channels.set(channel.id, this.decorate(channel));
  }

  get(channelId: string): PaymentChannel | undefined {
    return this.channels.get(channelId);
  }

  ids(): string[] {
    return [...this.channels.keys()];
  }
}
