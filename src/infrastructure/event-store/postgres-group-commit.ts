import type { AppendResult, ExpectedRevision, NewEvent } from '../../application/ports/event-store.port.js';
import { SameTurn } from './same-turn.js';

/** One append asked for, waiting for its group to be written. */
export interface GroupedAppend {
  readonly streamName: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
}

interface Waiting extends GroupedAppend {
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  /** The usual append, alone in its transaction: for a group of one, and for whatever a group could not settle. */
  readonly appendAlone: (append: GroupedAppend) => Promise<AppendResult>;
  /**
   * Writes a group (distinct streams) in one transaction: the result of each append whose
   * expected revision held, by stream; the others wrote nothing. Throws when nothing was written.
   */
  readonly writeGroup: (group: readonly GroupedAppend[]) => Promise<Map<string, AppendResult>>;
  /** Events one transaction can number (the position slots of a transaction id). */
  readonly maxEvents: number;
}

/** Appends in one group at most: a bound on one statement's size and on one transaction's locks. */
const MAX_GROUP = 64;

/**
 * Group commit for the PostgreSQL event store. Appends asked for in the same turn of the event
 * loop (concurrent HTTP requests, followers' reactions) are written together, one statement and
 * one commit for the group, instead of one transaction and one WAL flush each. Each append
 * keeps its own outcome: one whose expected revision did not hold, or that repeats stored
 * events, is settled alone afterwards by the usual append (which answers the repeat or the
 * ConcurrencyError), and the others are not held back by it. A group holds each stream once; a
 * second append to a stream in the same turn goes in another group, as two concurrent appends
 * to one stream always could.
 */
export class GroupCommit {
  private readonly waiting = new SameTurn<Waiting>((waiting) => this.flush(waiting));

  constructor(private readonly options: GroupCommitOptions) {}

  append(append: GroupedAppend): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => this.waiting.add({ ...append, resolve, reject }));
  }

  private flush(waiting: readonly Waiting[]): void {
    for (const group of groups(waiting, this.options.maxEvents)) {
      if (group.length === 1) this.alone(group[0]);
      else void this.write(group);
    }
  }

  private async write(group: readonly Waiting[]): Promise<void> {
    let written: Map<string, AppendResult>;
    try {
      written = await this.options.writeGroup(group);
    } catch (error) {
      // Nothing of the group was written. An error one append can cause (an event id its stream
      // holds already, data PostgreSQL refuses) is each append's own business: each is tried
      // alone, and gets its own answer. Any other (a lost connection) is every append's answer,
      // as it would have been alone.
      if (isOneAppendsError(error)) group.forEach((append) => this.alone(append));
      else group.forEach(({ reject }) => reject(error));
      return;
    }
    for (const append of group) {
      const result = written.get(append.streamName);
      if (result) append.resolve(result);
      else this.alone(append); // its expected revision did not hold: the usual append says why, or writes it
    }
  }

  private alone(append: Waiting): void {
    this.options.appendAlone(append).then(append.resolve, append.reject);
  }
}

/** Splits appends, in the order asked, into groups of distinct streams within the size bounds. */
function groups(waiting: readonly Waiting[], maxEvents: number): Waiting[][] {
  const result: { appends: Waiting[]; streams: Set<string>; events: number }[] = [];
  for (const append of waiting) {
    let group = result.find(
      (g) => !g.streams.has(append.streamName) && g.appends.length < MAX_GROUP && g.events + append.events.length <= maxEvents,
    );
    if (!group) {
      group = { appends: [], streams: new Set(), events: 0 };
      result.push(group);
    }
    group.appends.push(append);
    group.streams.add(append.streamName);
    group.events += append.events.length;
  }
  return result.map((g) => g.appends);
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): caused by some append's own data. */
function isOneAppendsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
