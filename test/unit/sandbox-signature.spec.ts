import { signSandboxBody, verifySandboxSignature } from '../../src/infrastructure/sandbox/sandbox-signature.js';

const secret = 'sandbox-test-secret';
const body = JSON.stringify({ notificationId: 'n-1', paymentId: 'pay_123456', status: 'succeeded', amount: 1999 });
const signedAt = new Date('2026-11-26T10:00:00.000Z');
const seconds = (n: number) => new Date(signedAt.getTime() + n * 1000);

describe('the sandbox notification signature', () => {
  it('has the form t=<unix seconds>,v1=<64 hex digits>', () => {
    expect(signSandboxBody(secret, body, signedAt)).toMatch(/^t=1795687200,v1=[0-9a-f]{64}$/);
  });

  it('accepts the exact body it signed, as a string or as bytes', () => {
    const header = signSandboxBody(secret, body, signedAt);
    expect(verifySandboxSignature(secret, header, body, signedAt)).toEqual({ valid: true, timestamp: 1795687200 });
    expect(verifySandboxSignature(secret, header, Buffer.from(body), seconds(299)).valid).toBe(true);
  });

  it('rejects a body changed after signing', () => {
    const header = signSandboxBody(secret, body, signedAt);
    const forged = body.replace('1999', '1');
    expect(verifySandboxSignature(secret, header, forged, signedAt)).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('rejects a forged signature of the right shape', () => {
    const forged = `t=${signedAt.getTime() / 1000},v1=${'ab'.repeat(32)}`;
    expect(verifySandboxSignature(secret, forged, body, signedAt)).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('rejects a signature made with another secret', () => {
    const header = signSandboxBody('another-secret', body, signedAt);
    expect(verifySandboxSignature(secret, header, body, signedAt)).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('rejects a timestamp moved to make a stale signature look fresh', () => {
    const header = signSandboxBody(secret, body, signedAt).replace(/^t=\d+/, `t=${seconds(200).getTime() / 1000}`);
    expect(verifySandboxSignature(secret, header, body, seconds(200))).toEqual({ valid: false, reason: 'mismatch' });
  });

  it('rejects a signature older than 300 seconds', () => {
    const header = signSandboxBody(secret, body, signedAt);
    expect(verifySandboxSignature(secret, header, body, seconds(301))).toEqual({ valid: false, reason: 'out-of-tolerance' });
  });

  it('rejects a signature from more than 300 seconds in the future', () => {
    const header = signSandboxBody(secret, body, seconds(301));
    expect(verifySandboxSignature(secret, header, body, signedAt)).toEqual({ valid: false, reason: 'out-of-tolerance' });
  });

  it('rejects a missing header', () => {
    expect(verifySandboxSignature(secret, undefined, body, signedAt)).toEqual({ valid: false, reason: 'missing' });
    expect(verifySandboxSignature(secret, '', body, signedAt)).toEqual({ valid: false, reason: 'missing' });
  });

  it.each(['garbage', 't=1795687200', 'v1=' + 'ab'.repeat(32), 't=soon,v1=' + 'ab'.repeat(32), 't=1795687200,v1=xyz'])(
    'rejects the malformed header %p',
    (header) => {
      expect(verifySandboxSignature(secret, header, body, signedAt)).toEqual({ valid: false, reason: 'malformed' });
    },
  );
});
