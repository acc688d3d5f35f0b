/** The OpenAPI document served at /openapi.json and /docs, generated from the controllers' decorators. */
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

/** What each tag of /docs is for (a tag without a line here shows without a description). */
const TAGS: Readonly<Record<string, string>> = {
  orders: 'Place, read, list and close orders; start a payment on a channel; what a payment page should do. Merchant keys see their own orders.',
  payments: 'Payment attempts, and asking the channel for the state of one now.',
  refunds: 'Refunds are requested and executed by the service itself (one per anomaly); an operator records how a failed one was settled.',
  checkout: "The hosted checkout: a merchant opens a session (API key); the payer's page and its JSON calls need no key (the token in the path is the key).",
  channels: "Called by providers and payers' browsers, without a key: signed notifications and the return from the channel.",
  reports: 'Projections for the back office and reconciliation (auditor and operator keys): anomalies and settlement. Eventually consistent: each answer says at which log position.',
  audit: 'The event log as recorded, for auditor and operator keys.',
  webhooks: "A merchant's own events: signed deliveries to its endpoints (Payguard-Signature), their attempts and re-sends, and the same events as a cursor-paged feed (GET /events). Merchant keys.",
  operations: 'Health (no key) and Prometheus metrics (auditor and operator keys).',
  problems: 'What each problem type of an error answer (RFC 9457) means; the `type` URIs name these pages.',
  sandbox: "The built-in sandbox provider (SANDBOX_ENABLED): its merchant API and pay page need no key; setting its faults needs an operator key. Takes no real money.",
};

const DESCRIPTION = `Prevents and repairs duplicate payments and payments after order expiry.

**Authentication.** When the service runs with \`API_KEYS\`, every operation marked with a lock needs \`Authorization: Bearer <key>\`: press **Authorize**, paste a key, then "Try it out". Merchant keys see their own orders only; auditor keys read everything and change nothing; operator keys also resolve refunds and set sandbox faults. Without \`API_KEYS\` the service runs open (local use).

**Errors** are \`application/problem+json\` (RFC 9457): \`type\`, \`title\`, \`status\`, \`detail\`, and \`errors\` naming each field at fault; \`type\` is \`https://payguard.dev/problems/<slug>\`, explained at \`/problems/<slug>\`.

**Money** is an integer \`amount\` in minor units plus an ISO 4217 \`currency\`. Times are ISO 8601 UTC.`;

export function buildApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Payguard')
    .setDescription(DESCRIPTION)
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API key of API_KEYS (merchant, auditor or operator)' }, 'bearer')
    // Every operation needs the key unless it says otherwise (ApiPublic), as the auth guard has it.
    .addSecurityRequirements('bearer');
  for (const [name, description] of Object.entries(TAGS)) builder.addTag(name, description);
  return SwaggerModule.createDocument(app, builder.build());
}

/** /docs with the key kept across reloads, so "Authorize" once serves every "Try it out". */
export const DOCS_OPTIONS = { jsonDocumentUrl: 'openapi.json', customSiteTitle: 'Payguard API', swaggerOptions: { persistAuthorization: true } } as const;
