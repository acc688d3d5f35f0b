import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsDefined, IsIn, IsString, IsUrl, MaxLength } from 'class-validator';
import { MERCHANT_EVENT_TYPES, type MerchantEventType } from '../../application/ports/webhook-store.port.js';

export class CreateWebhookEndpointDto {
  @ApiProperty({
    description: "the merchant's receiver: http(s), reachable from the internet (not Payguard itself, not a private, loopback or link-local address unless WEBHOOK_ALLOW_PRIVATE=true)",
    example: 'https://shop.example/payguard/webhooks',
    maxLength: 2048,
  })
  @IsDefined({ message: 'url is required' })
  @IsString()
  @MaxLength(2048)
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'url must be an absolute http(s) URL' })
  url!: string;

  @ApiProperty({ description: 'the event types to deliver', enum: MERCHANT_EVENT_TYPES, isArray: true, example: ['order.paid', 'refund.failed'] })
  @IsDefined({ message: 'events is required' })
  @IsArray({ message: 'events must be an array of event types' })
  @ArrayNotEmpty({ message: 'events must name at least one event type' })
  @ArrayMaxSize(MERCHANT_EVENT_TYPES.length * 2)
  @IsIn(MERCHANT_EVENT_TYPES, { each: true, message: `each of events must be one of ${MERCHANT_EVENT_TYPES.join(', ')}` })
  events!: MerchantEventType[];
}
