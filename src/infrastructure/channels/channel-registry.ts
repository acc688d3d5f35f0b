import type { ChannelRegistry } from '../../application/ports/channel-registry.port.js';
import type { PaymentChannel } from '../../application/ports/channel.port.js';

export class InMemoryChannelRegistry implements ChannelRegistry {
  private readonly channels = new Map<string, PaymentChannel>();

  constructor(channels: readonly PaymentChannel[] = []) {
    for (const channel of channels) this.register(channel);
  }

  register(channel: PaymentChannel): void {
    this.channels.set(channel.id, channel);
  }

  get(channelId: string): PaymentChannel | undefined {
    return this.channels.get(channelId);
  }

  ids(): string[] {
    return [...this.channels.keys()];
  }
}
