import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUrl, MaxLength } from 'class-validator';
import { CHECKOUT_LOCALES, type CheckoutLocale } from '../../application/checkout/checkout-tokens.port.js';
import type { CheckoutPayment, CheckoutState, ReturnTo, StartedCheckoutPayment } from '../../application/checkout/checkout-sessions.js';
import type { CheckoutAction } from '../../application/queries/checkout.js';
import type { OrderStatus } from '../../domain/order/order.events.js';
import type { PaymentStatus } from '../../domain/payment/payment.events.js';
import { ChannelField } from '../http/dtos.js';

@ApiSchema({ name: 'CreateCheckoutSessionRequest' })
export class CreateCheckoutSessionDto {
  @ApiPropertyOptional({
    description: "the shop's page the payer goes back to once the order is settled; its origin must be one RETURN_URL_ORIGINS allows",
    format: 'uri',
    maxLength: 2048,
    example: 'https://shop.example/orders/1001',
  })
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @MaxLength(2048)
  returnUrl?: string;

  @ApiPropertyOptional({ enum: CHECKOUT_LOCALES, description: "the page's language; without it, the payer's browser (Accept-Language) decides" })
  @IsOptional()
  @IsIn(CHECKOUT_LOCALES, { message: `locale must be one of ${CHECKOUT_LOCALES.join(', ')}` })
  locale?: CheckoutLocale;
}

@ApiSchema({ name: 'CheckoutPaymentRequest' })
export class CheckoutPaymentDto {
  @ChannelField()
  channel!: string;

  @ApiPropertyOptional({
    enum: ['checkout', 'shop'],
    description: "where the channel sends the payer back: this checkout page (default), or the session's returnUrl (guard.js on the shop's page)",
  })
  @IsOptional()
  @IsIn(['checkout', 'shop'], { message: 'returnTo must be checkout or shop' })
  returnTo?: ReturnTo;
}

@ApiSchema({ name: 'CheckoutSession' })
export class CheckoutSessionDto {
  @ApiProperty({ format: 'uri', description: 'the hosted page to send the payer to (no API key: the token is in the path)', example: 'https://payguard.example/checkout/eyJrIjoi...' })
  url!: string;

  @ApiProperty({ format: 'date-time', description: 'when the session ends' })
  expiresAt!: string;
}

@ApiSchema({ name: 'CheckoutAttempt' })
export class CheckoutAttemptDto implements CheckoutPayment {
  @ApiProperty() paymentId!: string;
  @ApiProperty({ example: 'sandbox-bank' }) channel!: string;
  @ApiProperty({ enum: ['pending', 'succeeded', 'failed', 'closed'] }) status!: PaymentStatus;
}

@ApiSchema({ name: 'CheckoutStartedPayment', description: 'Where the payer goes now, in the same window' })
export class StartedCheckoutPaymentDto extends CheckoutAttemptDto implements StartedCheckoutPayment {
  @ApiProperty({ format: 'uri' }) payUrl!: string;
  @ApiProperty({ description: 'false when an open attempt on this channel was reused' }) created!: boolean;
}

@ApiSchema({ name: 'CheckoutState', description: "The session's order as the page acts on it" })
export class CheckoutStateDto implements CheckoutState {
  @ApiProperty() orderId!: string;
  @ApiProperty({ enum: ['pay', 'confirm-previous-attempt', 'show-result'] }) action!: CheckoutAction;
  @ApiProperty({ enum: ['pending', 'paid', 'expired', 'closed'] }) status!: OrderStatus;
  @ApiProperty({ type: 'integer', minimum: 0 }) remainingSeconds!: number;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ type: 'integer', minimum: 1 }) amount!: number;
  @ApiProperty({ pattern: '^[A-Z]{3}$' }) currency!: string;
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty({ type: 'integer', minimum: 0, description: 'below this many seconds left no payment can start' }) minValiditySeconds!: number;
  @ApiProperty({ type: [String], description: 'the channels the payer may choose' }) channels!: string[];
  @ApiProperty({ type: CheckoutAttemptDto, nullable: true, description: 'the attempt in flight, or the paying payment' }) payment!: CheckoutAttemptDto | null;
  @ApiProperty({ type: CheckoutAttemptDto, nullable: true, description: 'the latest attempt when it failed or was closed' }) lastAttempt!: CheckoutAttemptDto | null;
  @ApiProperty({ enum: ['none', 'pending', 'refunded'] }) refund!: 'none' | 'pending' | 'refunded';
  @ApiProperty({ type: String, nullable: true, format: 'uri' }) returnUrl!: string | null;
  @ApiProperty({ enum: [...CHECKOUT_LOCALES], nullable: true }) locale!: CheckoutLocale | null;
  @ApiProperty({ format: 'date-time' }) sessionExpiresAt!: string;
}
