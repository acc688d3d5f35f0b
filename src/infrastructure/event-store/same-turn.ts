/**
 * Collects what is asked for in one turn of the event loop and hands it over at once: the
 * batches of the stores' group commits.
 */
export class SameTurn<T> {
  private waiting: T[] = [];
  private scheduled = false;

  constructor(private readonly handOver: (items: T[]) => void) {}

  add(item: T): void {
    this.waiting.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate, not a microtask: requests already read from sockets this turn join the batch.
      setImmediate(() => this.now());
    }
  }

  /** Hands over what waits now, without waiting for the turn to end (e.g. before closing). */
  now(): void {
    this.scheduled = false;
    const items = this.waiting;
    this.waiting = [];
    if (items.length > 0) this.handOver(items);
  }
}
