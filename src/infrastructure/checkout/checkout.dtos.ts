import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUrl, MaxLength } from 'class-validator';
import { CHECKOUT_LOCALES, type CheckoutLocale } from '../../application/checkout/checkout-tokens.port.js';
import type { ReturnTo } from '../../application/checkout/checkout-sessions.js';
import { ChannelField } from '../http/dtos.js';

export class CreateCheckoutSessionDto {
  @ApiPropertyOptional({
    description: "the shop's page the payer goes back to once the order is settled; its origin must be one RETURN_URL_ORIGINS allows",
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
