import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { Leadership } from '../../application/ports/leadership.port.js';

/** First key of the leader lock; the second is the hash of the schema, so each log has one leader (the audit CLI's rebuild takes it too). */
export const LEADER_LOCK = 0x70_67_6c_64; // 'pgld'

export interface PostgresLeadershipOptions {
  readonly connectionString: string;
  readonly schema: string;
  /** How often a standby tries the lock and a leader checks it still holds it. */
  readonly intervalMs?: number;
}

/**
 * Leader election with a session-level advisory lock on a connection of its own. A leader that
 * dies (kill -9, crash, lost network) loses its session and with it the lock, and a standby
 * takes over at its next try, within `intervalMs`. A leader checks its connection every interval
 * and stops its background work as soon as it can't, so two leaders overlap by at most an
 * interval; what they do is idempotent anyway (derived ids, deciders, refund ids at the channel).
 */
export class PostgresLeadership implements Leadership {
  private readonly logger = new Logger(PostgresLeadership.name);
  private readonly intervalMs: number;
  private client: pg.Client | null = null;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private handlers: { onElected: () => Promise<void>; onDeposed: () => Promise<void> } | null = null;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly options: PostgresLeadershipOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  async campaign(handlers: { onElected: () => Promise<void>; onDeposed: () => Promise<void> }): Promise<void> {
    this.handlers = handlers;
    this.stopped = false;
    await this.step();
    this.timer = setInterval(() => void this.step(), this.intervalMs);
    this.timer.unref();
  }

  async resign(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.busy;
    const client = this.client;
    this.client = null;
    this.leading = false;
    if (client !== null) {
      await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  /** One try (standby) or one check (leader); never two at once. */
  private step(): Promise<void> {
    this.busy = this.busy.then(() => (this.stopped ? undefined : this.leading ? this.check() : this.tryLock()));
    return this.busy;
  }

  private async tryLock(): Promise<void> {
    try {
      const client = await this.connection();
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [
        LEADER_LOCK,
        this.options.schema,
      ]);
      if (!rows[0].locked || this.stopped) return;
      this.leading = true;
      await this.handlers?.onElected();
    } catch (error) {
      this.logger.warn(`leader election: ${(error as Error).message}`);
      await this.dropConnection();
    }
  }

  private async check(): Promise<void> {
    try {
      await this.client?.query('SELECT 1');
      if (this.client !== null) return;
    } catch (error) {
      this.logger.warn(`leader lock connection lost: ${(error as Error).message}`);
    }
    // The lock lived in the lost session: someone else may lead already.
    this.leading = false;
    await this.dropConnection();
    await this.handlers?.onDeposed().catch((error: Error) => this.logger.error(`stopping background work: ${error.message}`));
  }

  private async connection(): Promise<pg.Client> {
    if (this.client !== null) return this.client;
    const client = new pg.Client({ connectionString: this.options.connectionString, application_name: 'payguard-leader' });
    client.on('error', (error) => this.logger.warn(`leader lock connection: ${error.message}`));
    await client.connect();
    this.client = client;
    return client;
  }

  private async dropConnection(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
