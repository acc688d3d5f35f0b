/**
 * The answers of the HTTP API as OpenAPI schemas. Each class `implements` the application's own
 * view type, so a field renamed there fails the build here; the e2e test checks real answers
 * against these schemas, undocumented fields included.
 */
import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { EventMetadata, RecordedEvent } from '../../application/ports/event-store.port.js';
import type { OrderRow } from '../../application/ports/projection-store.port.js';
import type { CheckoutAction, CheckoutView } from '../../application/queries/checkout.js';
import type { OrderView, PaymentView, RefundView } from '../../application/queries/order-views.js';
import type { AnomalyReportRow, SettlementReport, SettlementTotal } from '../../application/reporting/report-queries.js';
import { ANOMALY_KINDS, type AnomalyKind, type OrderStatus } from '../../domain/order/order.events.js';
import type { PaymentStatus, RefundReason, RefundStatus } from '../../domain/payment/payment.events.js';

const ORDER_STATUSES = ['pending', 'paid', 'expired', 'closed'];
const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'closed'];
const TIME = { type: String, format: 'date-time', example: '2026-11-26T10:00:00.000Z' } as const;
const AMOUNT = { type: 'integer', minimum: 0, description: 'minor units (1999 = 19.99)', example: 1999 } as const;
const CURRENCY = { pattern: '^[A-Z]{3}$', description: 'ISO 4217', example: 'CNY' } as const;
/** Sums over many payments: exact decimal strings of minor units, which may pass 2^53. */
const MONEY_SUM = { pattern: '^-?\\d+$', description: 'exact sum in minor units, as a decimal string', example: '3998' } as const;

@ApiSchema({ name: 'Money' })
export class MoneyDto {
  @ApiProperty(AMOUNT) amount!: number;
  @ApiProperty(CURRENCY) currency!: string;
}

@ApiSchema({ name: 'Payment', description: 'One payment attempt on one channel' })
export class PaymentDto implements PaymentView {
  @ApiProperty({ example: 'pay_3f9c2a7d1b' }) paymentId!: string;
  @ApiProperty({ example: 'order-1001' }) orderId!: string;
  @ApiProperty({ example: 'sandbox-bank' }) channel!: string;
  @ApiProperty(AMOUNT) amount!: number;
  @ApiProperty(CURRENCY) currency!: string;
  @ApiProperty({ enum: PAYMENT_STATUSES }) status!: PaymentStatus;
  @ApiProperty({ ...TIME, description: "what the channel was told: the payment's deadline there" }) timeExpire!: string;
  @ApiProperty({ type: String, nullable: true, format: 'uri', description: 'where the payer goes, in the same window; null while the channel trade is being created' })
  payUrl!: string | null;
  @ApiPropertyOptional() channelTradeNo?: string;
  @ApiPropertyOptional(TIME) paidAt?: string;
  @ApiPropertyOptional({ type: MoneyDto, description: "what the provider captured, when it is not the payment's amount and currency" })
  captured?: MoneyDto;
  @ApiProperty(TIME) createdAt!: string;
}

@ApiSchema({ name: 'Refund', description: 'The refund of one payment (its id is refund-<paymentId>)' })
export class RefundDto implements RefundView {
  @ApiProperty({ example: 'refund-pay_3f9c2a7d1b' }) refundId!: string;
  @ApiProperty() paymentId!: string;
  @ApiProperty() orderId!: string;
  @ApiProperty(AMOUNT) amount!: number;
  @ApiProperty(CURRENCY) currency!: string;
  @ApiProperty({ enum: ANOMALY_KINDS }) reason!: RefundReason;
  @ApiProperty({ enum: ['requested', 'succeeded', 'failed'], description: 'requested: a retry may be due; failed: final, an open item until resolved' })
  status!: RefundStatus;
  @ApiProperty(TIME) requestedAt!: string;
  @ApiPropertyOptional(TIME) completedAt?: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) attempts!: number;
  @ApiPropertyOptional({ ...AMOUNT, description: 'what the provider says it gave back' }) refundedAmount?: number;
  @ApiPropertyOptional() lastError?: string;
  @ApiPropertyOptional({ ...TIME, description: 'when the next attempt is due, while one is' }) nextAttemptAt?: string;
  @ApiPropertyOptional({ enum: ['refunded-outside', 'retry', 'written-off'] }) resolution?: string;
}

@ApiSchema({ name: 'Anomaly' })
export class AnomalyDto {
  @ApiProperty({ enum: ANOMALY_KINDS }) kind!: string;
  @ApiProperty() paymentId!: string;
  @ApiProperty(TIME) detectedAt!: string;
}

@ApiSchema({ name: 'Order', description: 'An order with its payments, refunds and anomalies' })
export class OrderDto implements OrderView {
  @ApiProperty({ example: 'order-1001' }) orderId!: string;
  @ApiProperty({ enum: ORDER_STATUSES }) status!: OrderStatus;
  @ApiProperty(AMOUNT) amount!: number;
  @ApiProperty(CURRENCY) currency!: string;
  @ApiProperty(TIME) expiresAt!: string;
  @ApiProperty(TIME) createdAt!: string;
  @ApiProperty({ type: String, nullable: true, example: 'Tea set' }) description!: string | null;
  @ApiPropertyOptional({ description: 'the paymentId that paid it' }) paidBy?: string;
  @ApiProperty({ type: [PaymentDto] }) payments!: PaymentDto[];
  @ApiProperty({ type: [RefundDto] }) refunds!: RefundDto[];
  @ApiProperty({ type: [AnomalyDto] }) anomalies!: AnomalyDto[];
}

@ApiSchema({ name: 'OrderCheckout', description: 'What a payment page does before it shows itself' })
export class OrderCheckoutDto implements CheckoutView {
  @ApiProperty() orderId!: string;
  @ApiProperty({ enum: ORDER_STATUSES }) status!: OrderStatus;
  @ApiProperty({ type: 'integer', minimum: 0 }) remainingSeconds!: number;
  @ApiProperty({ enum: ['pay', 'confirm-previous-attempt', 'show-result'] }) action!: CheckoutAction;
  @ApiPropertyOptional({ type: PaymentDto, description: 'the attempt in flight, or the payment that paid' }) payment?: PaymentDto;
}

@ApiSchema({ name: 'OrderListItem' })
export class OrderRowDto implements OrderRow {
  @ApiProperty() orderId!: string;
  @ApiProperty({ description: 'merchantId.orderId for an order placed with a merchant key' }) orderKey!: string;
  @ApiProperty({ type: String, nullable: true }) merchantId!: string | null;
  @ApiProperty({ enum: ORDER_STATUSES }) status!: OrderStatus;
  @ApiProperty(AMOUNT) amount!: number;
  @ApiProperty(CURRENCY) currency!: string;
  @ApiProperty(TIME) createdAt!: string;
  @ApiProperty(TIME) expiresAt!: string;
  @ApiProperty({ ...TIME, nullable: true }) endedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) paidBy!: string | null;
  @ApiProperty({ type: 'integer', minimum: 0 }) payments!: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) anomalies!: number;
  @ApiProperty({ ...AMOUNT }) refundedAmount!: number;
}

const NEXT = { type: String, nullable: true, description: 'pass as cursor for the next page; null on the last one' } as const;
const POSITION = { type: 'integer', minimum: 0, description: 'the log position the projection reflects (eventually consistent)' } as const;

@ApiSchema({ name: 'OrderList' })
export class OrderListDto {
  @ApiProperty({ type: [OrderRowDto] }) orders!: OrderRowDto[];
  @ApiProperty(NEXT) next!: string | null;
  @ApiProperty(POSITION) position!: number;
}

@ApiSchema({ name: 'AnomalyReportItem' })
export class AnomalyReportRowDto implements AnomalyReportRow {
  @ApiProperty() paymentId!: string;
  @ApiProperty() orderId!: string;
  @ApiProperty({ enum: ANOMALY_KINDS }) kind!: AnomalyKind;
  @ApiProperty(TIME) detectedAt!: string;
  @ApiProperty({ enum: ['none', 'requested', 'succeeded', 'failed', 'resolved'] }) refundStatus!: AnomalyReportRow['refundStatus'];
  @ApiProperty({ ...TIME, nullable: true }) refundRequestedAt!: string | null;
  @ApiProperty({ ...TIME, nullable: true }) refundCompletedAt!: string | null;
  @ApiProperty({ type: 'integer', minimum: 0 }) refundFailures!: number;
  @ApiProperty({ ...AMOUNT, nullable: true }) amount!: number | null;
  @ApiProperty({ ...CURRENCY, type: String, nullable: true }) currency!: string | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'ms from detection to the refund request' }) timeToRefundRequestMs!: number | null;
}

@ApiSchema({ name: 'AnomalyReport' })
export class AnomalyReportDto {
  @ApiProperty({ type: [AnomalyReportRowDto] }) anomalies!: AnomalyReportRowDto[];
  @ApiProperty(NEXT) next!: string | null;
  @ApiProperty(POSITION) position!: number;
}

@ApiSchema({ name: 'SettlementTotal' })
export class SettlementTotalDto implements SettlementTotal {
  @ApiProperty(CURRENCY) currency!: string;
  @ApiProperty(MONEY_SUM) capturedAmount!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) capturedCount!: number;
  @ApiProperty(MONEY_SUM) refundedAmount!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) refundedCount!: number;
  @ApiProperty(MONEY_SUM) netAmount!: string;
}

@ApiSchema({ name: 'SettlementRow' })
export class SettlementRowDto extends SettlementTotalDto {
  @ApiProperty({ format: 'date', example: '2026-11-26', description: 'a day in REPORT_TIMEZONE' }) day!: string;
  @ApiProperty({ example: 'sandbox-bank' }) channel!: string;
}

@ApiSchema({ name: 'SettlementReport' })
export class SettlementReportDto implements SettlementReport {
  @ApiProperty({ example: 'Asia/Shanghai', description: 'REPORT_TIMEZONE: the zone whose days the rows are by' }) timeZone!: string;
  @ApiProperty({ type: String, nullable: true, format: 'date', description: 'first day (inclusive)' }) from!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date', description: 'last day (inclusive)' }) to!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', description: 'first moment of the first day' }) start!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', description: 'first moment after the last day' }) end!: string | null;
  @ApiProperty({ type: [SettlementRowDto] }) rows!: SettlementRowDto[];
  @ApiProperty({ type: [SettlementTotalDto], description: 'per currency, over every day and channel' }) totals!: SettlementTotalDto[];
  @ApiProperty(POSITION) position!: number;
}

@ApiSchema({ name: 'EventMetadata' })
export class EventMetadataDto implements EventMetadata {
  @ApiProperty({ ...TIME, description: 'when the service recorded the event' }) occurredAt!: string;
  @ApiProperty() correlationId!: string;
  @ApiProperty({ type: String, nullable: true }) causationId!: string | null;
  @ApiProperty({ type: 'integer', minimum: 1 }) schemaVersion!: number;
}

@ApiSchema({ name: 'AuditEvent', description: 'One event of the log, as recorded' })
export class AuditEventDto implements Pick<RecordedEvent, 'position' | 'streamName' | 'revision' | 'eventId' | 'type' | 'data' | 'metadata'> {
  @ApiProperty({ type: 'integer', minimum: 1, description: 'place in the global log' }) position!: number;
  @ApiProperty({ example: 'order-order-1001' }) streamName!: string;
  @ApiProperty({ type: 'integer', minimum: 0, description: 'place in its stream, from 0' }) revision!: number;
  @ApiProperty() eventId!: string;
  @ApiProperty({ example: 'OrderPlaced', description: 'OrderPlaced, OrderPaid, OrderExpired, OrderClosed, PaymentInitiated, PaymentSucceeded, RefundRequested, ...' })
  type!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'the fact; names the ids it concerns' }) data!: Record<string, unknown>;
  @ApiProperty({ type: EventMetadataDto }) metadata!: EventMetadataDto;
}

@ApiSchema({ name: 'AuditEventPage' })
export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto] }) events!: AuditEventDto[];
  @ApiProperty({ type: 'integer', minimum: 0, description: 'pass as after for the next page' }) next!: number;
}

@ApiSchema({ name: 'AuditStream' })
export class AuditStreamDto {
  @ApiProperty({ type: [AuditEventDto] }) events!: AuditEventDto[];
}

@ApiSchema({ name: 'Liveness' })
export class LiveDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

@ApiSchema({ name: 'Readiness' })
export class ReadyDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
  @ApiProperty({ enum: ['ok'] }) store!: 'ok';
  @ApiProperty({ enum: ['leader', 'standby'], description: 'a standby serves commands; the background work runs on the leader' }) role!: 'leader' | 'standby';
  @ApiProperty({ type: 'integer', minimum: 0, description: 'position of the last event in the log' }) head!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, description: "each log follower's lag, in events (empty on a standby)" })
  lag!: Record<string, number>;
}

@ApiSchema({ name: 'ProblemType', description: 'What a problem type means (GET /problems/{slug} with Accept: application/json)' })
export class ProblemTypeDto {
  @ApiProperty({ format: 'uri' }) type!: string;
  @ApiProperty({ example: 'validation' }) slug!: string;
  @ApiProperty() title!: string;
  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599 }) status!: number;
  @ApiProperty() when!: string;
  @ApiProperty() whatToDo!: string;
}

@ApiSchema({ name: 'NotificationReceived' })
export class NotificationReceivedDto {
  @ApiProperty({ enum: [true] }) received!: true;
}
