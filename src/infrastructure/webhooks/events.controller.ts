import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { MERCHANT_EVENT_TYPES, type FeedScope, type MerchantEventType } from '../../application/ports/webhook-store.port.js';
import { WebhookEndpoints } from '../../application/webhooks/webhook-endpoints.js';
import type { Viewer } from '../../application/shared/viewer.js';
import { CurrentViewer } from '../http/auth.guard.js';
import { QueryReader } from '../http/report-query.js';
import { ApiLimitQuery, ApiProblems } from '../http/openapi.js';
import { validationFailed } from '../http/validation.js';
import { MerchantEventPageDto } from './webhook.responses.js';
import type { EventsPage } from './webhook-views.js';

/** One event type, as a regular expression (for the document's `type` parameter). */
const ONE_TYPE = `(${MERCHANT_EVENT_TYPES.map((type) => type.replace('.', '\\.')).join('|')})`;

/**
 * The merchant events feed: the events webhooks deliver, as a cursor-paged list. A merchant key
 * reads its own; the open service the events of orders placed without a merchant key; auditor and
 * operator keys every merchant's (they read the whole audit log anyway).
 */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('events')
export class EventsController {
  constructor(private readonly endpoints: WebhookEndpoints) {}

  @Get()
  @ApiOperation({ operationId: 'listEvents', summary: "The caller's merchant events in log order (the same objects webhooks deliver), cursor-paged" })
  @ApiQuery({ name: 'after', required: false, description: '`next` of the previous page (default 0: from the start)', schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiLimitQuery()
  @ApiQuery({
    name: 'type',
    required: false,
    description: `only these types, comma-separated: ${MERCHANT_EVENT_TYPES.join(', ')}`,
    schema: { type: 'string', pattern: `^${ONE_TYPE}(,${ONE_TYPE})*$`, example: 'order.paid,refund.failed' },
  })
  @ApiOkResponse({ type: MerchantEventPageDto })
  @ApiProblems('unauthorized', 'validation')
  async list(@Query() query: Record<string, unknown>, @CurrentViewer() viewer: Viewer): Promise<EventsPage> {
    const read = new QueryReader(query, ['after', 'limit', 'type']);
    const after = read.integer('after', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = read.integer('limit', 100, 1, 1000);
    const type = read.string('type');
    read.done();
    const types = eventTypes(type);
    const scope: FeedScope = viewer.kind === 'merchant' ? { merchantId: viewer.merchantId } : viewer.kind === 'open' ? { merchantId: null } : 'all';
    const rows = await this.endpoints.feed(scope, after, limit, types);
    return { events: rows.map((row) => row.event), next: rows.length > 0 ? rows[rows.length - 1].position : after };
  }
}

function eventTypes(raw: string | undefined): MerchantEventType[] | undefined {
  if (raw === undefined) return undefined;
  const types = raw.split(',').map((type) => type.trim());
  const unknown = types.filter((type) => !(MERCHANT_EVENT_TYPES as readonly string[]).includes(type));
  if (unknown.length > 0) throw validationFailed([{ field: 'type', message: `unknown event type ${unknown.join(', ')}; one of ${MERCHANT_EVENT_TYPES.join(', ')}` }]);
  return types as MerchantEventType[];
}
