import { createHash, randomFillSync, randomUUID } from 'node:crypto';
import type { Clock, IdGenerator } from '../../application/ports/clock.port.js';

export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random bytes are fetched from the kernel this many at a time (as randomUUID does), not one call per token. */
const POOL_BYTES = 4096;

export class CryptoIdGenerator implements IdGenerator {
  private readonly pool = Buffer.alloc(POOL_BYTES);
  private used = POOL_BYTES;

  uuid(): string {
    return randomUUID();
  }

  token(length: number): string {
    // 62 * 4 = 248 < 256: rejecting bytes >= 248 keeps every character equally likely.
    let out = '';
    while (out.length < length) {
      const byte = this.randomByte();
      if (byte < 248) out += ALPHABET[byte % 62];
    }
    return out;
  }

  /** One byte of the CSPRNG; each byte of the pool is handed out once. */
  private randomByte(): number {
    if (this.used === POOL_BYTES) {
      randomFillSync(this.pool);
      this.used = 0;
    }
    return this.pool[this.used++];
  }

  /** A name-based UUID (version 5 layout over SHA-1), stable for the same name. */
  derived(name: string): string {
    const hash = createHash('sha1').update('payguard:').update(name).digest();
    hash[6] = (hash[6] & 0x0f) | 0x50;
    hash[8] = (hash[8] & 0x3f) | 0x80;
    const hex = hash.subarray(0, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
