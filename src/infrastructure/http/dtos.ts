import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsDefined, IsIn, IsIP, IsISO8601, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Matches, Max, MaxLength, Min } from 'class-validator';
import { ORDER_VALIDITY_SECONDS } from '../../domain/order/order.events.js';
import { CURRENCY_EXPONENTS } from '../../domain/shared/currencies.js';

const { minimum: MIN_VALIDITY, maximum: MAX_VALIDITY, default: DEFAULT_VALIDITY } = ORDER_VALIDITY_SECONDS;
const ACTIVE_CURRENCIES = Object.keys(CURRENCY_EXPONENTS);

@ApiSchema({ name: 'PlaceOrderRequest' })
export class CreateOrderDto {
  @ApiPropertyOptional({ description: '1-64 characters of [A-Za-z0-9_-]; made by the service when absent', pattern: '^[A-Za-z0-9_-]{1,64}$', example: 'order-1001' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'orderId must be 1-64 characters of [A-Za-z0-9_-]' })
  orderId?: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'integer minor units (1999 = 19.99)', example: 1999 })
  @IsDefined({ message: 'amount is required' })
  @IsInt({ message: 'amount must be an integer number of minor units' })
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  amount!: number;

  @ApiProperty({ enum: ACTIVE_CURRENCIES, description: 'an active ISO 4217 code (three upper-case letters); the amount is in its minor units', example: 'CNY' })
  @IsDefined({ message: 'currency is required' })
  @IsString()
  @IsIn(ACTIVE_CURRENCIES, { message: 'currency must be an active ISO 4217 code, e.g. CNY, USD, EUR, JPY' })
  currency!: string;

  // The default is said in words: a generated client (openapi-typescript) reads a schema `default` as always present, and would require the field.
  @ApiPropertyOptional({
    type: 'integer',
    minimum: MIN_VALIDITY,
    maximum: MAX_VALIDITY,
    description: `validity in seconds, 1 s to 7 days (default ${DEFAULT_VALIDITY}); not with expiresAt`,
    example: DEFAULT_VALIDITY,
  })
  @IsOptional()
  @IsInt()
  @Min(MIN_VALIDITY)
  @Max(MAX_VALIDITY)
  expiresInSeconds?: number;

  // No example here: Swagger UI would send it beside expiresInSeconds's, and a body with both is refused.
  @ApiPropertyOptional({ format: 'date-time', description: 'the deadline, ISO 8601 UTC (e.g. 2026-11-26T10:30:00.000Z), 1 s to 7 days from now; not with expiresInSeconds' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  expiresAt?: string;

  @ApiPropertyOptional({ maxLength: 256, example: 'Tea set' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  description?: string;
}

@ApiSchema({ name: 'CloseOrderRequest' })
export class CloseOrderDto {
  @ApiPropertyOptional({ maxLength: 256 })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  reason?: string;
}

/** A channel id in a request body (which channels are offered is checked when it is used). */
export const ChannelField = (): PropertyDecorator =>
  applyDecorators(ApiProperty({ minLength: 1, maxLength: 64, description: 'a channel id: sandbox-bank, sandbox-wallet, alipay, wechatpay (those offered)', example: 'sandbox-bank' }), IsDefined({ message: 'channel is required' }), IsString(), IsNotEmpty(), MaxLength(64));

@ApiSchema({ name: 'StartPaymentRequest' })
export class StartPaymentDto {
  @ChannelField()
  channel!: string;

  @ApiPropertyOptional({
    description: "the merchant's page the payer lands on after paying; its origin must be one RETURN_URL_ORIGINS allows (default any https, and loopback http)",
    format: 'uri',
    maxLength: 2048,
    example: 'https://shop.example/orders/1001',
  })
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  @MaxLength(2048)
  returnUrl?: string;

  @ApiPropertyOptional({
    description: "the payer's IP address (IPv4 or IPv6), as the merchant's page saw it; required by channels that need it (wechatpay)",
    example: '203.0.113.7',
  })
  @IsOptional()
  @IsIP(undefined, { message: 'payerIp must be an IPv4 or IPv6 address' })
  payerIp?: string;
}

@ApiSchema({ name: 'ResolveRefundRequest' })
export class ResolveRefundDto {
  @ApiProperty({ enum: ['refunded-outside', 'retry', 'written-off'], description: 'how the failed refund was settled; retry executes it again' })
  @IsDefined({ message: 'resolution is required' })
  @IsIn(['refunded-outside', 'retry', 'written-off'], { message: 'resolution must be refunded-outside, retry or written-off' })
  resolution!: 'refunded-outside' | 'retry' | 'written-off';

  @ApiProperty({ description: 'what was done, for the record (kept for ever: no card data)', minLength: 1, maxLength: 1000, example: 'refunded by bank transfer, ticket 4711' })
  @IsDefined({ message: 'note is required' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1000)
  note!: string;
}
