/**
 * Webhook deliveries are signed the way the sandbox provider signs its notifications (one
 * implementation, sandbox-signature.ts): `Payguard-Signature: t=<unix seconds>,v1=<hex
 * HMAC-SHA256(endpoint secret, "<t>.<raw body>")>`. A receiver checks it with the same steps as
 * verifySandboxSignature (README: "Verifying a webhook").
 */
import { signSandboxBody, verifySandboxSignature } from '../sandbox/sandbox-signature.js';

export const WEBHOOK_SIGNATURE_HEADER = 'Payguard-Signature';

export const signWebhookBody: (secret: string, rawBody: string | Buffer, now: Date) => string = signSandboxBody;
export const verifyWebhookSignature: typeof verifySandboxSignature = verifySandboxSignature;
