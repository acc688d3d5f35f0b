/** An amount in integer minor units (1999 = 19.99) of an ISO 4217 currency. Never a float. */
export interface Money {
  readonly amount: number;
  readonly currency: string;
}

/**
 * A sum of amounts in minor units, exact at any size: the decimal digits of the sum (with a
 * leading `-` when negative), as reports carry totals that may pass Number.MAX_SAFE_INTEGER.
 * `terms` are safe integers or such digit strings.
 */
export function sumMinorUnits(...terms: readonly (number | string)[]): string {
  let total = 0n;
  for (const term of terms) total += toBigInt(term);
  return total.toString();
}

/** `a - b` of two such amounts, exact: a settlement's net (captured minus refunded) may be negative. */
export function subtractMinorUnits(a: number | string, b: number | string): string {
  return (toBigInt(a) - toBigInt(b)).toString();
}

const DIGITS = /^-?\d{1,4000}$/;

function toBigInt(term: number | string): bigint {
  if (typeof term === 'number') {
    if (!Number.isSafeInteger(term)) throw new RangeError(`not a safe integer of minor units: ${term}`);
    return BigInt(term);
  }
  if (!DIGITS.test(term)) throw new RangeError(`not an integer of minor units: ${term}`);
  return BigInt(term);
}
