import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { upcast } from '../../application/event-sourcing/upcaster.js';
import { EVENT_STORE, type EventStore, type RecordedEvent } from '../../application/ports/event-store.port.js';
import { ApiLimitQuery, ApiProblems } from './openapi.js';
import { QueryReader } from './report-query.js';
import { AuditEventPageDto, AuditStreamDto } from './responses.dtos.js';
import { validationFailed } from './validation.js';
import { orderKeyOf } from '../../domain/shared/stream-names.js';

/** order-{orderId}, order-{merchantId}.{orderId} or payment-{paymentId}. */
const isStreamName = (name: string): boolean => orderKeyOf(name) !== null || /^payment-[A-Za-z0-9_-]{1,64}$/.test(name);

/** The event log as auditors read it: commit order, every event with its metadata. */
@ApiTags('audit')
@ApiProblems('unauthorized', 'forbidden')
@Controller('audit')
export class AuditController {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  @Get('events')
  @ApiOperation({ operationId: 'listAuditEvents', summary: 'The global log in commit order, from a position (auditor and operator keys)' })
  @ApiQuery({ name: 'after', required: false, description: 'the position to read after (`next` of the previous page)', schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiLimitQuery()
  @ApiOkResponse({ type: AuditEventPageDto })
  @ApiProblems('validation')
  async events(@Query() query: Record<string, unknown>): Promise<{ events: AuditEvent[]; next: number }> {
    const read = new QueryReader(query, ['after', 'limit']);
    const from = read.integer('after', 0, 0, Number.MAX_SAFE_INTEGER);
    const count = read.integer('limit', 100, 1, 1000);
    read.done();
    const events = (await this.store.readAll(from, count)).map(toAuditEvent);
    return { events, next: events.length > 0 ? events[events.length - 1].position : from };
  }

  @Get('streams/:streamName')
  @ApiOperation({ operationId: 'getAuditStream', summary: 'Every event of one stream (order-{orderId}, order-{merchantId}.{orderId} or payment-{paymentId})' })
  @ApiParam({ name: 'streamName', schema: { type: 'string', pattern: '^(order-[A-Za-z0-9_-]{1,64}(\\.[A-Za-z0-9_-]{1,64})?|payment-[A-Za-z0-9_-]{1,64})$', example: 'order-order-1001' } })
  @ApiOkResponse({ type: AuditStreamDto, description: 'empty for a stream that does not exist' })
  @ApiProblems('validation')
  async stream(@Param('streamName') streamName: string, @Query() query: Record<string, unknown>): Promise<{ events: AuditEvent[] }> {
    new QueryReader(query, []).done();
    if (!isStreamName(streamName)) {
      throw validationFailed([{ field: 'streamName', message: 'must be order-{orderId}, order-{merchantId}.{orderId} or payment-{paymentId}' }]);
    }
    return { events: (await this.store.readStream(streamName)).map(toAuditEvent) };
  }
}

type AuditEvent = Pick<RecordedEvent, 'position' | 'streamName' | 'revision' | 'eventId' | 'type' | 'data' | 'metadata'>;

function toAuditEvent(recorded: RecordedEvent): AuditEvent {
  const { position, streamName, revision, eventId, type, data, metadata } = upcast(recorded);
  return { position, streamName, revision, eventId, type, data, metadata };
}

