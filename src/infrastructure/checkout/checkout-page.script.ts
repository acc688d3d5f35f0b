/**
 * The hosted checkout's own script, run in the payer's browser. It is served as the source text of
 * the function below (/checkout/assets/checkout.js), so it is type-checked with the rest and needs
 * no bundler; it must therefore use nothing from outside its own body.
 *
 * Its rule: never show a payment button before the service said, just now, that the order may be
 * paid. It asks on load, whenever the page is shown again (pageshow, back/forward cache included)
 * and whenever the tab becomes visible; each answer replaces whatever the page showed before.
 */
/* istanbul ignore next: browser code, never run in Node (instrumenting it would break the served text) */
export function checkoutPageScript(): void {
  type Action = 'pay' | 'confirm-previous-attempt' | 'show-result';
  interface Payment {
    paymentId: string;
    channel: string;
    status: string;
  }
  interface State {
    orderId: string;
    action: Action;
    status: string;
    remainingSeconds: number;
    minValiditySeconds: number;
    channels: string[];
    payment: Payment | null;
    lastAttempt: Payment | null;
    refund: 'none' | 'pending' | 'refunded';
    returnUrl: string | null;
  }

  /** How long "Yes, I have paid" keeps asking the channel, and how often. */
  const CONFIRM_WINDOW_MS = 60_000;
  const CONFIRM_EVERY_MS = 3_000;
  const RETRY_OFFLINE_MS = 3_000;

  const root = document.getElementById('checkout');
  if (root === null) return;
  const token = root.dataset.token ?? '';
  const text = JSON.parse(root.dataset.text ?? '{}') as Record<string, string>;
  const names = JSON.parse(root.dataset.channels ?? '{}') as Record<string, string>;
  const element = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
  const statusLine = element('status');
  const countdown = element('countdown');
  const paySection = element('pay');
  const buttons = element('channels');
  const payNote = element('pay-note');
  const result = element('result');
  const resultTitle = element('result-title');
  const resultText = element('result-text');
  const resultNote = element('result-note');
  const back = element<HTMLAnchorElement>('back');
  const dialog = element('dialog');
  const dialogText = element('dialog-text');
  const dialogStatus = element('dialog-status');
  const yes = element<HTMLButtonElement>('yes');
  const no = element<HTMLButtonElement>('no');

  const say = (template: string | undefined, values: Record<string, string | number> = {}): string =>
    (template ?? '').replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
  const nameOf = (channel: string): string => names[channel] ?? channel;
  const api = (path: string): string => new URL(`${encodeURIComponent(token)}/${path}`, location.href).toString();

  let state: State | null = null;
  /** Bumped by every check: answers to an older one, and its timers, are ignored. */
  let generation = 0;
  /** performance.now() at which the order's validity ends, as the last answer said. */
  let deadline = 0;
  let ticker: number | undefined;
  let later: number | undefined;
  /** A payment start is under way (a double click, or a second button, starts nothing). */
  let starting = false;
  /** The attempt the payer said they did not pay ("No, pay now"): no dialog for it again on this page. */
  let notPaid: string | null = null;
  let confirmUntil = 0;

  // The channel brought the payer back with ?orderId&paymentId&status: the page asks for itself.
  const params = new URLSearchParams(location.search);
  if (params.has('paymentId')) {
    const lang = params.get('lang');
    history.replaceState(history.state, '', location.pathname + (lang === null ? '' : `?lang=${encodeURIComponent(lang)}`));
  }

  function show(part: 'checking' | 'pay' | 'dialog' | 'result'): void {
    statusLine.hidden = part !== 'checking';
    paySection.hidden = part !== 'pay';
    dialog.hidden = part !== 'dialog';
    result.hidden = part !== 'result';
  }

  function stopTimers(): void {
    window.clearInterval(ticker);
    window.clearTimeout(later);
  }

  async function check(): Promise<void> {
    const mine = ++generation;
    stopTimers();
    starting = false;
    buttons.replaceChildren();
    statusLine.textContent = text.checking;
    show('checking');
    try {
      const answer = await fetch(api('state'), { headers: { accept: 'application/json' }, cache: 'no-store' });
      if (mine !== generation) return;
      if (answer.status === 404) return location.reload(); // the session ended: the server's page says so
      if (!answer.ok) throw new Error(String(answer.status));
      render((await answer.json()) as State);
    } catch {
      if (mine !== generation) return;
      statusLine.textContent = text.offline;
      later = window.setTimeout(() => void check(), RETRY_OFFLINE_MS);
    }
  }

  function render(next: State): void {
    state = next;
    stopTimers();
    if (next.action === 'show-result') return showResult(next);
    deadline = performance.now() + next.remainingSeconds * 1000;
    countdown.hidden = false;
    tick();
    ticker = window.setInterval(tick, 1000);
    if (next.action === 'confirm-previous-attempt' && next.payment !== null && next.payment.paymentId !== notPaid) return showDialog(next.payment);
    showPay(next);
  }

  function secondsLeft(): number {
    return Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
  }

  function tick(): void {
    const left = secondsLeft();
    const hours = Math.floor(left / 3600);
    const minutes = Math.floor((left % 3600) / 60);
    const seconds = String(left % 60).padStart(2, '0');
    const time = hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
    countdown.textContent = say(text.timeLeft, { time });
    if (state !== null && !paySection.hidden && left < state.minValiditySeconds) {
      for (const button of buttons.querySelectorAll('button')) button.disabled = true;
      note(say(text.tooLate, { seconds: state.minValiditySeconds }));
    }
    // The order has ended: ask again, and the answer shows the result.
    if (left === 0) {
      window.clearInterval(ticker);
      later = window.setTimeout(() => void check(), 250);
    }
  }

  function note(message: string): void {
    payNote.textContent = message;
    payNote.hidden = message === '';
  }

  function showPay(current: State): void {
    show('pay');
    const late = secondsLeft() < current.minValiditySeconds;
    buttons.replaceChildren(
      ...current.channels.map((channel) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.channel = channel;
        button.textContent = nameOf(channel);
        button.disabled = late;
        button.addEventListener('click', () => void start(channel));
        return button;
      }),
    );
    const inFlight = current.action === 'confirm-previous-attempt' ? current.payment : null;
    const last = current.lastAttempt;
    note(
      late
        ? say(text.tooLate, { seconds: current.minValiditySeconds })
        : inFlight !== null
          ? say(text.switchNote, { channel: nameOf(inFlight.channel) })
          : last !== null
            ? say(last.status === 'failed' ? text.declined : text.cancelled, { channel: nameOf(last.channel) })
            : '',
    );
  }

  async function start(channel: string): Promise<void> {
    if (starting) return;
    starting = true;
    for (const button of buttons.querySelectorAll('button')) button.disabled = true;
    note(say(text.opening, { channel: nameOf(channel) }));
    const mine = generation;
    try {
      const answer = await fetch(api('payments'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ channel }),
      });
      if (mine !== generation) return;
      const body = (await answer.json()) as { payUrl?: string };
      if (answer.ok && typeof body.payUrl === 'string') {
        // The channel's page in this window: its return brings the payer back here.
        location.assign(body.payUrl);
        return;
      }
      // Paid, expired or closed meanwhile, too late, or the session ended: the state says which.
      if ([404, 409, 422].includes(answer.status)) return void check();
      throw new Error(String(answer.status));
    } catch {
      if (mine !== generation) return;
      starting = false;
      if (state !== null) showPay(state);
      note(text.unavailable);
    }
  }

  function showDialog(payment: Payment): void {
    show('dialog');
    dialogText.textContent = say(text.dialogText, { channel: nameOf(payment.channel) });
    dialogStatus.textContent = '';
    yes.disabled = false;
    no.disabled = false;
    yes.focus();
  }

  async function confirmPaid(): Promise<void> {
    if (state === null || state.payment === null) return;
    yes.disabled = true;
    dialogStatus.textContent = say(text.syncing, { channel: nameOf(state.payment.channel) });
    confirmUntil = performance.now() + CONFIRM_WINDOW_MS;
    await askChannel(generation, state.payment.channel);
  }

  /** Asks the channel through the service; until the window closes, asks again while nothing has arrived. */
  async function askChannel(mine: number, channel: string): Promise<void> {
    try {
      const answer = await fetch(api('confirm'), { method: 'POST', headers: { accept: 'application/json' } });
      if (mine !== generation) return;
      if (answer.status === 404) return location.reload();
      if (answer.ok) {
        const next = (await answer.json()) as State;
        if (next.action !== 'confirm-previous-attempt') return render(next);
        state = next;
      }
    } catch {
      // unreachable for now: asked again below
    }
    if (mine !== generation) return;
    if (performance.now() < confirmUntil) {
      dialogStatus.textContent = say(text.notArrived, { channel: nameOf(channel) });
      later = window.setTimeout(() => void askChannel(mine, channel), CONFIRM_EVERY_MS);
    } else {
      dialogStatus.textContent = say(text.stillNotArrived, { channel: nameOf(channel) });
      yes.disabled = false;
    }
  }

  function payNow(): void {
    if (state === null) return;
    notPaid = state.payment?.paymentId ?? null;
    // Stops asking the channel ("Yes, I have paid" may have been pressed first).
    generation++;
    window.clearTimeout(later);
    showPay(state);
    buttons.querySelector('button')?.focus();
  }

  function showResult(current: State): void {
    show('result');
    countdown.hidden = true;
    const paid = current.status === 'paid';
    result.className = `result ${paid ? 'ok' : 'ended'}`;
    const key = paid ? 'paid' : current.status === 'closed' ? 'closed' : 'expired';
    resultTitle.textContent = text[`${key}Title`] ?? '';
    resultText.textContent = say(text[`${key}Text`], { orderId: current.orderId });
    resultNote.textContent = current.refund === 'pending' ? text.refundPending : current.refund === 'refunded' ? text.refunded : '';
    resultNote.hidden = current.refund === 'none';
    if (current.returnUrl !== null) {
      const target = new URL(current.returnUrl);
      target.searchParams.set('orderId', current.orderId);
      target.searchParams.set('status', current.status);
      back.href = target.toString();
    }
    back.hidden = current.returnUrl === null;
  }

  yes.addEventListener('click', () => void confirmPaid());
  no.addEventListener('click', payNow);
  window.addEventListener('pageshow', () => void check());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void check();
  });
}
