import type { Leadership } from '../../application/ports/leadership.port.js';

/** For the embedded stores: one process owns the store, so it always leads. */
export class SingleInstanceLeadership implements Leadership {
  private leading = false;

  get isLeader(): boolean {
    return this.leading;
  }

  async campaign(handlers: { onElected: () => Promise<void> }): Promise<void> {
    this.leading = true;
    await handlers.onElected();
  }

  async resign(): Promise<void> {
    this.leading = false;
  }
}
