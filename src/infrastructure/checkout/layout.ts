/**
 * The shell of every page the service shows a payer: a viewport, the shared stylesheet, and at
 * most one script, all from this service (no third-party resource, no inline script or style).
 */
import type { HttpReply } from '../http/http-types.js';
import type { Locale } from './i18n.js';

/**
 * What the payer's pages may load: only this origin, never framed. Set by the pages themselves so
 * they keep to it whatever the service's other headers say; a stricter global policy still holds.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface PageParts {
  readonly locale: Locale;
  readonly title: string;
  /** The page's body, already escaped. */
  readonly main: string;
  /** Where /checkout/assets/ is from this page (relative, so a path prefix in front of the service still works). */
  readonly assets: string;
  readonly script?: string;
  /** Reload every this many seconds (a meta refresh: no script needed). */
  readonly refreshSeconds?: number;
  /** Attributes of <main>, already escaped. */
  readonly mainAttributes?: string;
}

export function renderPage(parts: PageParts): string {
  const { locale, title, main, assets, script, refreshSeconds, mainAttributes } = parts;
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
${refreshSeconds === undefined ? '' : `<meta http-equiv="refresh" content="${refreshSeconds}">\n`}<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(`${assets}checkout.css`)}">
${script === undefined ? '' : `<script src="${escapeHtml(`${assets}${script}`)}" defer></script>\n`}</head>
<body>
<main${mainAttributes === undefined ? '' : ` ${mainAttributes}`}>
${main}
</main>
</body>
</html>
`;
}

/** A page that says one thing: a result or an error, with an optional link. */
export function messagePage(parts: {
  locale: Locale;
  assets: string;
  tone: 'ok' | 'wait' | 'ended' | 'bad';
  title: string;
  text: readonly string[];
  link?: { href: string; label: string };
  /** Small print under it, already escaped. */
  footerHtml?: string;
  refreshSeconds?: number;
}): string {
  const { tone, title, text, link, footerHtml } = parts;
  const main =
    `<section class="result ${tone}"><div class="mark" aria-hidden="true"></div>` +
    `<h1>${escapeHtml(title)}</h1>` +
    text.map((line) => `<p>${escapeHtml(line)}</p>`).join('') +
    (link === undefined ? '' : `<a class="button" href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a>`) +
    (footerHtml === undefined ? '' : `<p class="ref">${footerHtml}</p>`) +
    `</section>`;
  return renderPage({ locale: parts.locale, title, main, assets: parts.assets, refreshSeconds: parts.refreshSeconds });
}

/** Sends a payer's page: HTML, never cached (it shows live state), under PAGE_CSP, with no referrer leaving it. */
export function sendPage(response: HttpReply, status: number, html: string): void {
  response
    .status(status)
    .headers({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': PAGE_CSP,
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
    })
    .send(html);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
