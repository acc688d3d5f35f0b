/**
 * The sandbox provider's API in the OpenAPI document: its bodies and answers as schemas, and one
 * decorator per operation, so the controller (which validates by hand) keeps one line for each.
 * Everything but setting faults is public, as the auth guard has it.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiProperty, ApiPropertyOptional, ApiQuery, ApiResponse, ApiSchema, getSchemaPath } from '@nestjs/swagger';
import { ApiProblemResponse, ApiProblems, ApiPublic } from '../http/openapi.js';
import { MAX_DUPLICATE_NOTIFICATIONS, SANDBOX_PROVIDERS, type SandboxFaults, type SandboxRefund, type SandboxTradeParams } from './sandbox-gateway.js';

const TIME = { format: 'date-time', example: '2026-11-26T10:00:00.000Z' } as const;
const ID = { pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const MINOR_UNITS = { type: 'integer', minimum: 1, example: 1999 } as const;
const HTML = { 'text/html': { schema: { type: 'string' } } } as const;

@ApiSchema({ name: 'SandboxTradeRequest' })
export class SandboxTradeRequestDto implements SandboxTradeParams {
  @ApiProperty({ ...ID, description: "the merchant's trade number (Payguard's paymentId)" }) outTradeNo!: string;
  @ApiProperty(MINOR_UNITS) amount!: number;
  @ApiProperty({ pattern: '^[A-Z]{3}$', example: 'CNY' }) currency!: string;
  @ApiProperty({ ...TIME, description: 'after this the trade cannot be paid' }) timeExpire!: string;
  @ApiProperty({ format: 'uri', description: 'where the signed notifications go' }) notifyUrl!: string;
  @ApiProperty({ format: 'uri', description: 'where the payer is sent back' }) returnUrl!: string;
  @ApiPropertyOptional({ maxLength: 256 }) subject?: string;
}

@ApiSchema({ name: 'SandboxRefund' })
export class SandboxRefundDto implements SandboxRefund {
  @ApiProperty(ID) outRequestNo!: string;
  @ApiProperty() refundNo!: string;
  @ApiProperty({ ...MINOR_UNITS, description: 'what was paid back' }) amount!: number;
  @ApiProperty({ ...MINOR_UNITS, description: 'what the merchant asked for' }) requestedAmount!: number;
  @ApiProperty({ pattern: '^[A-Z]{3}$' }) currency!: string;
  @ApiPropertyOptional() reason?: string;
  @ApiProperty(TIME) refundedAt!: string;
}

@ApiSchema({ name: 'SandboxTrade', description: 'A trade as the provider reports it' })
export class SandboxTradeDto extends SandboxTradeRequestDto {
  @ApiProperty({ enum: SANDBOX_PROVIDERS }) provider!: string;
  @ApiProperty({ description: "the provider's trade number" }) tradeNo!: string;
  @ApiProperty(TIME) createdAt!: string;
  @ApiProperty({ enum: ['WAIT_PAY', 'PAID', 'CLOSED', 'FAILED'] }) status!: string;
  @ApiPropertyOptional(TIME) paidAt?: string;
  @ApiPropertyOptional({ ...MINOR_UNITS, description: 'what the payer was charged' }) capturedAmount?: number;
  @ApiPropertyOptional(TIME) closedAt?: string;
  @ApiPropertyOptional() failReason?: string;
  @ApiProperty({ type: [SandboxRefundDto] }) refunds!: SandboxRefundDto[];
  @ApiProperty({ type: 'integer', minimum: 0 }) refundedAmount!: number;
  @ApiPropertyOptional({ format: 'uri', description: "the payer's page (on create only)" }) payUrl?: string;
}

@ApiSchema({ name: 'SandboxTradeList' })
export class SandboxTradeListDto {
  @ApiProperty({ type: [SandboxTradeDto] }) trades!: SandboxTradeDto[];
}

@ApiSchema({ name: 'SandboxRefundRequest' })
export class SandboxRefundRequestDto {
  @ApiProperty({ ...ID, description: "the merchant's refund number: a repeat is answered with the first refund" }) outRequestNo!: string;
  @ApiProperty(MINOR_UNITS) amount!: number;
  @ApiPropertyOptional({ pattern: '^[A-Z]{3}$' }) currency?: string;
  @ApiPropertyOptional({ maxLength: 256 }) reason?: string;
}

@ApiSchema({ name: 'SandboxRefundResult' })
export class SandboxRefundResultDto extends SandboxRefundDto {
  @ApiProperty() outTradeNo!: string;
  @ApiProperty({ enum: ['SUCCESS'] }) status!: 'SUCCESS';
}

@ApiSchema({ name: 'SandboxPayRequest' })
export class SandboxPayRequestDto {
  @ApiPropertyOptional({ enum: ['success', 'fail'], description: 'default success' }) outcome?: 'success' | 'fail';
  @ApiPropertyOptional({ maxLength: 128, description: "the pay page form's token (a form post; JSON needs none)" }) csrf?: string;
}

@ApiSchema({ name: 'SandboxFaults', description: 'How the provider misbehaves; {} is good behaviour' })
export class SandboxFaultsDto implements SandboxFaults {
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 3_600_000 }) notifyDelayMs?: number;
  @ApiPropertyOptional({ description: 'send no notifications' }) dropNotifications?: boolean;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: MAX_DUPLICATE_NOTIFICATIONS, description: 'extra copies of each notification' }) duplicateNotifications?: number;
  @ApiPropertyOptional({ description: 'query, close and refund answer 503' }) apiDown?: boolean;
  @ApiPropertyOptional({ description: 'take money after timeExpire or after a close' }) ignoreTimeExpire?: boolean;
  @ApiPropertyOptional({ type: 'integer', minimum: -1_000_000_000, maximum: 1_000_000_000, description: 'capture amount + n' }) captureAmountDelta?: number;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 1_000_000_000, description: 'a refund pays back max(1, asked - n)' }) refundShortfall?: number;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 600_000, description: 'create-trade answers only after n ms' }) createStallMs?: number;
}

const provider = ApiParam({ name: 'provider', enum: SANDBOX_PROVIDERS });
const outTradeNo = ApiParam({ name: 'outTradeNo', schema: { type: 'string', ...ID } });
const trade = (description = 'the trade') => ApiOkResponse({ type: SandboxTradeDto, description });
const refused = (status: number, description: string) => ApiProblemResponse(status, description);
const unknownTrade = refused(404, 'unknown provider (`not-found`) or trade (`sandbox-trade-not-found`)');
const apiDown = refused(503, '`sandbox-api-down` (the apiDown fault) or `sandbox-sandbox-full`');
const op = (operationId: string, summary: string) => applyDecorators(ApiOperation({ operationId, summary }), ApiPublic());

/** One decorator per operation of SandboxController. */
export const SandboxDocs = {
  createTrade: () =>
    applyDecorators(
      op('sandboxCreateTrade', 'Create a trade (the same outTradeNo and body again answers the trade, 200)'),
      provider,
      ApiBody({ type: SandboxTradeRequestDto }),
      ApiResponse({ status: 201, type: SandboxTradeDto, description: 'created, with payUrl' }),
      trade('the existing trade, with payUrl'),
      refused(400, '`validation`, `sandbox-notify-url-not-allowed`, `sandbox-return-url-not-allowed`'),
      refused(404, 'unknown provider'),
      refused(409, '`sandbox-trade-conflict`: the outTradeNo exists with other details'),
      apiDown,
    ),
  listTrades: () =>
    applyDecorators(
      op('sandboxListTrades', 'Every trade this provider holds'),
      provider,
      ApiOkResponse({ type: SandboxTradeListDto }),
      refused(404, 'unknown provider'),
    ),
  queryTrade: () => applyDecorators(op('sandboxQueryTrade', 'One trade, as the provider has it now'), provider, outTradeNo, trade(), unknownTrade, apiDown),
  closeTrade: () =>
    applyDecorators(
      op('sandboxCloseTrade', 'Close a trade so it can no longer be paid'),
      provider,
      outTradeNo,
      trade(),
      unknownTrade,
      refused(409, '`sandbox-trade-paid` (with `trade`): it was paid'),
      apiDown,
    ),
  refund: () =>
    applyDecorators(
      op('sandboxRefundTrade', 'Refund a paid trade (idempotent by outRequestNo)'),
      provider,
      outTradeNo,
      ApiBody({ type: SandboxRefundRequestDto }),
      ApiOkResponse({ type: SandboxRefundResultDto }),
      refused(400, '`validation`'),
      unknownTrade,
      refused(409, '`sandbox-trade-not-paid`, `sandbox-refund-conflict`, `sandbox-refund-currency-mismatch`, `sandbox-refund-amount-exceeded`'),
      apiDown,
    ),
  payPage: () =>
    applyDecorators(
      op('sandboxPayPage', "The provider's page where the payer pays (HTML)"),
      ApiParam({ name: 'paymentId', schema: { type: 'string' } }),
      ApiQuery({ name: 'lang', required: false, description: 'else Accept-Language, else English', schema: { type: 'string', enum: ['zh-CN', 'en'] } }),
      ApiResponse({ status: 200, content: HTML }),
      ApiResponse({ status: 404, description: 'unknown payment (a page for the payer)', content: HTML }),
    ),
  payPageStyles: () => applyDecorators(op('sandboxPayPageStyles', "The pay page's stylesheet"), ApiProduces('text/css'), ApiOkResponse({ schema: { type: 'string' } })),
  pay: () =>
    applyDecorators(
      op('sandboxPay', 'The payer pays (or declines): JSON with Accept: application/json, else a redirect back to the merchant'),
      ApiParam({ name: 'paymentId', schema: { type: 'string' } }),
      ApiExtraModels(SandboxTradeDto),
      ApiBody({ type: SandboxPayRequestDto, required: false }),
      ApiResponse({ status: 200, description: 'paid or declined (Accept: application/json)', content: { 'application/json': { schema: { $ref: getSchemaPath(SandboxTradeDto) } } } }),
      ApiResponse({ status: 303, description: 'a browser: back to the returnUrl' }),
      refused(400, '`validation`'),
      refused(403, '`sandbox-forbidden`: a form post without the pay page token'),
      refused(404, '`sandbox-trade-not-found`'),
      ApiResponse({
        status: 409,
        description: 'cannot be paid (paid, closed, expired, failed): `sandbox-trade-not-payable`; a browser gets the pay page again',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } }, ...HTML },
      }),
    ),
  setFaults: () =>
    applyDecorators(
      ApiOperation({ operationId: 'sandboxSetFaults', summary: 'Replace every fault; {} restores good behaviour (operator keys; open mode allows it)' }),
      ApiBody({ type: SandboxFaultsDto }),
      ApiOkResponse({ type: SandboxFaultsDto }),
      refused(400, '`validation`'),
      ApiProblems('unauthorized', 'forbidden'),
    ),
  getFaults: () => applyDecorators(op('sandboxGetFaults', 'The faults in force'), ApiOkResponse({ type: SandboxFaultsDto })),
};
