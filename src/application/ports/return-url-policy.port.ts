/** Where a payer may be sent back to after paying (RETURN_URL_ORIGINS): a merchant's returnUrl must pass it. */
export interface ReturnUrlPolicy {
  allows(url: string): boolean;
}

export const RETURN_URL_POLICY = Symbol('ReturnUrlPolicy');
