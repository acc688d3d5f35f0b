import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { LogFollower } from '../log/log-follower.js';
import type { CheckpointStore, RecordedEvent } from '../ports/event-store.port.js';
import { SharedLogReader } from '../log/shared-log-reader.js';
import { PROJECTION_NAMES, PROJECTION_STORE, ProjectionOutOfStepError, type ProjectionName, type ProjectionStore } from '../ports/projection-store.port.js';
import { SETTINGS, type PayguardSettings } from '../ports/settings.port.js';
import { ProjectionRunner } from './projection-runner.js';
import { ReportDays } from './report-days.js';

/**
 * The reporting projections (orders, anomalies, settlement), kept current by one log follower
 * while this instance leads. Their checkpoints live in the projection store, written in the same
 * transaction as their rows, so the follower's own checkpoint is only a starting hint: on start it
 * is the lowest of them, and saving it is a no-op.
 */
@Injectable()
export class ReportProjections implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(ReportProjections.name);
  private readonly runner: ProjectionRunner;
  private readonly follower: LogFollower;
  private restarting: Promise<void> | null = null;

  constructor(
    log: SharedLogReader,
    @Inject(PROJECTION_STORE) private readonly projections: ProjectionStore,
    @Inject(SETTINGS) settings: PayguardSettings,
  ) {
    this.runner = new ProjectionRunner(projections, new ReportDays(settings.reportTimeZone));
    const checkpoints: CheckpointStore = {
      load: async () => ({ position: await this.runner.load(), state: null }),
      save: async () => undefined,
    };
    this.follower = new LogFollower(log, checkpoints, {
      name: 'projections',
      batchSize: 1000,
      // Reports may trail the log by a moment: under load, one commit of rows per 50 ms at most,
      // instead of one per append, which the hot path of the service pays for.
      minReadIntervalMs: 50,
      handle: (events) => this.handle(events),
      onError: (error) => this.logger.error(`projection update failed, retrying: ${(error as Error).stack ?? String(error)}`),
    });
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  async stop(): Promise<void> {
    await this.restarting;
    await this.follower.stop();
  }

  /** Log position each projection has applied. */
  positions(): Record<ProjectionName, number> {
    return Object.fromEntries(PROJECTION_NAMES.map((name) => [name, this.runner.position(name)])) as Record<ProjectionName, number>;
  }

  waitFor(position: number, timeoutMs?: number): Promise<void> {
    return this.follower.waitFor(position, timeoutMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.projections.close();
  }

  private async handle(events: readonly RecordedEvent[]): Promise<void> {
    try {
      await this.runner.apply(events);
    } catch (error) {
      // A checkpoint moved back under us (a rebuild while we ran): this batch can't fill the gap,
      // so follow again from the stored checkpoints.
      if (error instanceof ProjectionOutOfStepError && this.runner.behind(events[0].position) && this.restarting === null) {
        this.logger.warn(`${error.message}: following the log again from the stored checkpoints`);
        this.restarting = new Promise<void>((resolve) => setImmediate(resolve))
          .then(() => this.follower.stop())
          .then(() => this.follower.start())
          .catch((restartError: unknown) => this.logger.error(`restarting the projections failed: ${String(restartError)}`))
          .finally(() => {
            this.restarting = null;
          });
      }
      throw error;
    }
  }
}
