/** An amount in integer minor units (1999 = 19.99) of an ISO 4217 currency. Never a float. */
export interface Money {
  readonly amount: number;
  readonly currency: string;
}

const CURRENCY = /^[A-Z]{3}$/;

export function isValidMoney(money: Money): boolean {
  return Number.isSafeInteger(money.amount) && money.amount > 0 && CURRENCY.test(money.currency);
}

export function sameMoney(a: Money, b: Money): boolean {
  return a.amount === b.amount && a.currency === b.currency;
}
