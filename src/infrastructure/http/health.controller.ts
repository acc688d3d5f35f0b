import { Controller, Get, HttpException, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { BackgroundWorkers } from '../../application/background-workers.js';
import { EVENT_STORE, type EventStore } from '../../application/ports/event-store.port.js';
import { problem } from './problem.js';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly workers: BackgroundWorkers,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: "The store is reachable and the log's followers are running; their lag in events" })
  async ready(): Promise<{ status: 'ok'; store: 'ok'; role: 'leader' | 'standby'; head: number; lag: Record<string, number> }> {
    try {
      await this.store.ping();
    } catch (error) {
      throw new HttpException({ problem: problem('not-ready', `event store unreachable: ${(error as Error).message}`) }, 503);
    }
    if (!this.workers.isStarted) throw new HttpException({ problem: problem('not-ready', 'background workers not started') }, 503);
    const { head, followers } = await this.workers.lag();
    // A standby serves commands; its followers run only once it is elected.
    if (!this.workers.isLeader) return { status: 'ok', store: 'ok', role: 'standby', head, lag: {} };
    return { status: 'ok', store: 'ok', role: 'leader', head, lag: followers };
  }
}
