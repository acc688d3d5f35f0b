/**
 * /checkout/guard.js: the checkout's guard for a shop that renders its own payment page. Served as
 * the source text of the function below (so it must use nothing from outside its body); see
 * docs/api.md ("guard.js") for how a shop uses it.
 *
 * It does what the hosted page does before it shows anything, and leaves the showing to the shop:
 * it asks the service for the session's state on start, on every pageshow (back/forward cache
 * included) and whenever the tab becomes visible, and hands each answer to the shop's callbacks
 * (and as DOM events on `window`): `pay` (show your buttons), `confirm` (ask "Have you already
 * completed the payment?"), `result` (paid, expired or closed: never a payment button again).
 */
/* istanbul ignore next: browser code, never run in Node (instrumenting it would break the served text) */
export function guardScript(): void {
  type Action = 'pay' | 'confirm-previous-attempt' | 'show-result';
  interface State {
    action: Action;
    [field: string]: unknown;
  }
  interface GuardOptions {
    /** The session's URL (`url` of POST /orders/{id}/checkout-sessions), or its token. */
    session: string;
    onPay?: (state: State) => void;
    onConfirm?: (state: State) => void;
    onResult?: (state: State) => void;
    /** Every state, whatever its action. */
    onState?: (state: State) => void;
    onError?: (error: Error) => void;
  }

  const EVENT = { pay: 'payguard:pay', 'confirm-previous-attempt': 'payguard:confirm', 'show-result': 'payguard:result' } as const;
  // Where the service is: the session URL says it; a bare token is taken to be on this script's service.
  const scriptSrc = document.currentScript instanceof HTMLScriptElement ? document.currentScript.src : location.href;

  function guard(options: GuardOptions) {
    const session = new URL(/^https?:\/\//.test(options.session) ? options.session : `checkout/${encodeURIComponent(options.session)}`, new URL('../', scriptSrc));
    const api = (path: string): string => `${session.origin}${session.pathname.replace(/\/+$/, '')}/${path}`;
    let generation = 0;
    let stopped = false;

    function deliver(state: State): State {
      options.onState?.(state);
      const callback = state.action === 'pay' ? options.onPay : state.action === 'show-result' ? options.onResult : options.onConfirm;
      callback?.(state);
      window.dispatchEvent(new CustomEvent(EVENT[state.action], { detail: state }));
      return state;
    }

    async function call(path: string, init: RequestInit): Promise<State | null> {
      const mine = ++generation;
      try {
        const answer = await fetch(api(path), { ...init, mode: 'cors', credentials: 'omit', cache: 'no-store' });
        const body = (await answer.json()) as State & { detail?: string };
        if (!answer.ok) throw new Error(`${answer.status}: ${body.detail ?? 'checkout request failed'}`);
        return mine === generation && !stopped ? deliver(body) : null;
      } catch (error) {
        options.onError?.(error as Error);
        window.dispatchEvent(new CustomEvent('payguard:error', { detail: error }));
        throw error;
      }
    }

    const check = (): Promise<State | null> => call('state', { method: 'GET' });
    const onPageShow = (): void => void check().catch(() => undefined);
    const onVisible = (): void => {
      if (document.visibilityState === 'visible') onPageShow();
    };
    window.addEventListener('pageshow', onPageShow);
    document.addEventListener('visibilitychange', onVisible);
    if (document.readyState === 'complete') onPageShow();

    return {
      /** Asks for the state now. */
      check,
      /** "Yes, I have paid": the service asks the channel of the attempt in flight, then answers the state. */
      confirm: (): Promise<State | null> => call('confirm', { method: 'POST' }),
      /** Starts paying on a channel (closing an attempt in flight on another) and goes there in this window. */
      async pay(channel: string): Promise<void> {
        ++generation;
        const answer = await fetch(api('payments'), {
          method: 'POST',
          mode: 'cors',
          credentials: 'omit',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel, returnTo: 'shop' }),
        });
        const body = (await answer.json()) as { payUrl?: string; detail?: string };
        if (!answer.ok || typeof body.payUrl !== 'string') {
          void check().catch(() => undefined);
          throw new Error(`${answer.status}: ${body.detail ?? 'the payment could not be started'}`);
        }
        location.assign(body.payUrl);
      },
      stop(): void {
        stopped = true;
        window.removeEventListener('pageshow', onPageShow);
        document.removeEventListener('visibilitychange', onVisible);
      },
    };
  }

  (window as unknown as { PayguardCheckout: { guard: typeof guard } }).PayguardCheckout = { guard };
}
