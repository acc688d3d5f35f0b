import { Controller, Get, HttpException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BackgroundWorkers } from '../../application/workers/background-workers.js';
import { StoreHealth } from '../event-store/store-health.js';
import { ApiProblems, ApiPublic } from './openapi.js';
import { problem } from './problem.js';
import { LiveDto, ReadyDto } from './responses.dtos.js';

@ApiTags('operations')
@ApiPublic()
@Controller('health')
export class HealthController {
  constructor(
    private readonly storeHealth: StoreHealth,
    private readonly workers: BackgroundWorkers,
  ) {}

  @Get('live')
  @ApiOperation({ operationId: 'getLiveness', summary: 'The process is up' })
  @ApiOkResponse({ type: LiveDto })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOkResponse({ type: ReadyDto })
  @ApiProblems('not-ready')
  @ApiOperation({
    operationId: 'getReadiness',
    summary: "The store can be written and read now (a real write and read, within a budget, and no write failure seen since), and the log's followers are running; their lag in events",
  })
  async ready(): Promise<{ status: 'ok'; store: 'ok'; role: 'leader' | 'standby'; head: number; lag: Record<string, number> }> {
    const store = await this.storeHealth.status();
    if (!store.ok) throw new HttpException({ problem: problem('not-ready', `event store: ${store.reason}`) }, 503);
    if (!this.workers.isStarted) throw new HttpException({ problem: problem('not-ready', 'background workers not started') }, 503);
    const { head, followers } = await this.workers.lag().catch((error: Error) => {
      throw new HttpException({ problem: problem('not-ready', `event store: reading the head of the log failed: ${error.message}`) }, 503);
    });
    // A standby serves commands; its followers run only once it is elected.
    if (!this.workers.isLeader) return { status: 'ok', store: 'ok', role: 'standby', head, lag: {} };
    return { status: 'ok', store: 'ok', role: 'leader', head, lag: followers };
  }
}
