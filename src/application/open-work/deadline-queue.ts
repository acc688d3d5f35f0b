/** A min-heap of order deadlines, so finding what is due costs O(log n), not a scan of every pending order. */
export class DeadlineQueue {
  private readonly heap: { at: number; id: string }[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(id: string, at: number): void {
    const heap = this.heap;
    heap.push({ at, id });
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (heap[parent].at <= heap[child].at) break;
      [heap[parent], heap[child]] = [heap[child], heap[parent]];
      child = parent;
    }
  }

  /** Removes and returns every entry due at `now` (entries may be stale: the caller checks). */
  popDue(now: number): { at: number; id: string }[] {
    const due: { at: number; id: string }[] = [];
    while (this.heap.length > 0 && this.heap[0].at <= now) due.push(this.pop());
    return due;
  }

  clear(): void {
    this.heap.length = 0;
  }

  private pop(): { at: number; id: string } {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let parent = 0;
      for (;;) {
        const left = 2 * parent + 1;
        const right = left + 1;
        let smallest = parent;
        if (left < heap.length && heap[left].at < heap[smallest].at) smallest = left;
        if (right < heap.length && heap[right].at < heap[smallest].at) smallest = right;
        if (smallest === parent) break;
        [heap[parent], heap[smallest]] = [heap[smallest], heap[parent]];
        parent = smallest;
      }
    }
    return top;
  }
}
