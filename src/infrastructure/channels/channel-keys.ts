/**
 * RSA keys as providers hand them out: PEM (PKCS#1 or PKCS#8, or an X.509 certificate for a
 * public key), or the bare base64 body the Alipay console shows. Environment variables often
 * carry PEM newlines as "\n", so those are restored first.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { ConfigError } from '../config/config.js';

export function privateKeyFrom(text: string, name: string): KeyObject {
  return rsa(readPrivate(normalise(text), name), name);
}

export function publicKeyFrom(text: string, name: string): KeyObject {
  return rsa(readPublic(normalise(text), name), name);
}

function readPrivate(material: string, name: string): KeyObject {
  try {
    if (material.includes('-----BEGIN')) return createPrivateKey(material);
    const der = Buffer.from(material.replace(/\s+/g, ''), 'base64');
    return tryEach([
      () => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
      () => createPrivateKey({ key: der, format: 'der', type: 'pkcs1' }),
    ]);
  } catch {
    throw new ConfigError(`${name} is not a readable RSA private key`);
  }
}

function readPublic(material: string, name: string): KeyObject {
  try {
    if (material.includes('-----BEGIN CERTIFICATE')) return new X509Certificate(material).publicKey;
    if (material.includes('-----BEGIN')) return createPublicKey(material);
    const der = Buffer.from(material.replace(/\s+/g, ''), 'base64');
    return tryEach([
      () => createPublicKey({ key: der, format: 'der', type: 'spki' }),
      () => createPublicKey({ key: der, format: 'der', type: 'pkcs1' }),
    ]);
  } catch {
    throw new ConfigError(`${name} is not a readable RSA public key or certificate`);
  }
}

function rsa(key: KeyObject, name: string): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') throw new ConfigError(`${name} must be an RSA key (RSA2 / SHA256withRSA)`);
  return key;
}

function normalise(text: string): string {
  return text.replace(/\\n/g, '\n').trim();
}

function tryEach<T>(attempts: ReadonlyArray<() => T>): T {
  let last: unknown;
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (error) {
      last = error;
    }
  }
  throw last;
}
