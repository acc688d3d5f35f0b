/** Who is asking: decides what they may see (a merchant sees only its own orders). */
export type Viewer =
  | { readonly kind: 'open' }
  | { readonly kind: 'merchant'; readonly merchantId: string }
  | { readonly kind: 'auditor' }
  /** Reads everything, and settles failed refunds (and, later, operates the sandbox). */
  | { readonly kind: 'operator' };

export const OPEN_VIEWER: Viewer = { kind: 'open' };

export function merchantOf(viewer: Viewer): string | null {
  return viewer.kind === 'merchant' ? viewer.merchantId : null;
}

export function canSee(viewer: Viewer, orderMerchantId: string | null): boolean {
  return viewer.kind !== 'merchant' || viewer.merchantId === orderMerchantId;
}
