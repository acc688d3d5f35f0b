/**
 * Which instance runs the log's followers, deadlines and sweep. Commands work on every instance;
 * the background work runs on one at a time, so effects are not duplicated (they would be harmless
 * anyway: every reaction is idempotent and refunds carry their own id to the channel).
 */
export interface Leadership {
  /**
   * Campaigns until stopped: `onElected` runs when this instance becomes the leader and
   * `onDeposed` when it stops being one (its lock is lost): it must stop its background work.
   */
  campaign(handlers: { onElected: () => Promise<void>; onDeposed: () => Promise<void> }): Promise<void>;
  /** Stops campaigning and releases leadership. */
  resign(): Promise<void>;
  readonly isLeader: boolean;
}

export const LEADERSHIP = Symbol('Leadership');
