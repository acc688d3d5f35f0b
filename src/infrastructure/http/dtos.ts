import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsIn, IsIP, IsISO8601, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Matches, Max, MaxLength, Min } from 'class-validator';
import { CURRENCY_EXPONENTS } from '../../domain/shared/currencies.js';

const SEVEN_DAYS = 7 * 24 * 3600;
const ACTIVE_CURRENCIES = Object.keys(CURRENCY_EXPONENTS);

export class CreateOrderDto {
  @ApiPropertyOptional({ description: '1-64 characters of [A-Za-z0-9_-]; made by the service when absent', example: 'order-1001' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'orderId must be 1-64 characters of [A-Za-z0-9_-]' })
  orderId?: string;

  @ApiProperty({ description: 'integer minor units (1999 = 19.99)', example: 1999 })
  @IsDefined({ message: 'amount is required' })
  @IsInt({ message: 'amount must be an integer number of minor units' })
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  amount!: number;

  @ApiProperty({ description: 'an active ISO 4217 code (three upper-case letters); the amount is in its minor units', example: 'CNY' })
  @IsDefined({ message: 'currency is required' })
  @IsString()
  @IsIn(ACTIVE_CURRENCIES, { message: 'currency must be an active ISO 4217 code, e.g. CNY, USD, EUR, JPY' })
  currency!: string;

  @ApiPropertyOptional({ description: 'validity, 1 s to 7 days (default 1800)', example: 1800 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(SEVEN_DAYS)
  expiresInSeconds?: number;

  @ApiPropertyOptional({ description: 'ISO 8601 UTC, 1 s to 7 days from now', example: '2026-11-26T10:30:00.000Z' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  expiresAt?: string;

  @ApiPropertyOptional({ maxLength: 256 })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  description?: string;
}

export class CloseOrderDto {
  @ApiPropertyOptional({ maxLength: 256 })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  reason?: string;
}

/** A channel id in a request body (which channels are offered is checked when it is used). */
export const ChannelField = (): PropertyDecorator =>
  applyDecorators(ApiProperty({ example: 'sandbox-bank' }), IsDefined({ message: 'channel is required' }), IsString(), IsNotEmpty(), MaxLength(64));

export class StartPaymentDto {
  @ChannelField()
  channel!: string;

  @ApiPropertyOptional({
    description: "the merchant's page the payer lands on after paying; its origin must be one RETURN_URL_ORIGINS allows (default any https, and loopback http)",
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

export class ResolveRefundDto {
  @ApiProperty({ enum: ['refunded-outside', 'retry', 'written-off'], description: 'how the failed refund was settled; retry executes it again' })
  @IsDefined({ message: 'resolution is required' })
  @IsIn(['refunded-outside', 'retry', 'written-off'], { message: 'resolution must be refunded-outside, retry or written-off' })
  resolution!: 'refunded-outside' | 'retry' | 'written-off';

  @ApiProperty({ description: 'what was done, for the record (kept for ever: no card data)', maxLength: 1000, example: 'refunded by bank transfer, ticket 4711' })
  @IsDefined({ message: 'note is required' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1000)
  note!: string;
}
