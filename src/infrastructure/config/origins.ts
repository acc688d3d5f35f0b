/**
 * Lists of web origins (RETURN_URL_ORIGINS, SANDBOX_NOTIFY_ORIGINS): where a URL the service or
 * the sandbox is handed may point. Comma-separated entries `scheme://host[:port]`, scheme http or
 * https:
 * - `https://shop.example` that origin (no port: the scheme's default port only);
 * - `http://127.0.0.1:*` that host on any port;
 * - `https://*.shop.example` every subdomain of shop.example (not shop.example itself);
 * - `https://*` every host on any port.
 * Hosts are compared as the URL parser writes them (lower case, punycode, `[::1]`), so
 * `https://shop.example@evil.example/` is evil.example's origin, not shop.example's.
 */

interface OriginPattern {
  readonly protocol: 'http:' | 'https:';
  /** An exact hostname, '*' for any, or '.suffix' for any subdomain. */
  readonly host: string;
  /** '' for the scheme's default port, '*' for any, else the port. */
  readonly port: string;
}

/** Loopback on any port, http or https: where a sandbox run alone may notify by default. */
export const LOOPBACK_ORIGINS = 'http://127.0.0.1:*,https://127.0.0.1:*,http://localhost:*,https://localhost:*,http://[::1]:*,https://[::1]:*';

/** Any https origin, and http on loopback: where payers may be sent back to by default. */
export const DEFAULT_RETURN_URL_ORIGINS = 'https://*,http://127.0.0.1:*,http://localhost:*,http://[::1]:*';

const ENTRY = /^(https?):\/\/(\*|\*\.[^\s/:?#@[\]*]+|\[[0-9A-Fa-f:.]+\]|[^\s/:?#@[\]*]+)(?::(\*|\d{1,5}))?\/?$/;

export class OriginList {
  private constructor(
    private readonly patterns: readonly OriginPattern[],
    /** The list as configured, for logs. */
    readonly text: string,
  ) {}

  /** Throws an Error naming the entry that is not an origin (the caller says which setting). */
  static parse(raw: string): OriginList {
    const entries = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    if (entries.length === 0) throw new Error('must list at least one origin');
    return new OriginList(entries.map(parseEntry), entries.join(','));
  }

  /** Whether `url` is an http(s) URL on one of the listed origins; anything unparsable is not. */
  allows(url: string | URL): boolean {
    const parsed = toUrl(url);
    if (parsed === undefined) return false;
    return this.patterns.some((pattern) => matches(pattern, parsed));
  }

  toString(): string {
    return this.text;
  }
}

/** Whether two URLs have the same origin (scheme, host, port); false when either does not parse. */
export function sameOrigin(a: string | URL, b: string | URL): boolean {
  const [left, right] = [toUrl(a), toUrl(b)];
  return left !== undefined && right !== undefined && left.origin === right.origin;
}

function parseEntry(entry: string): OriginPattern {
  const match = ENTRY.exec(entry);
  if (match === null) throw new Error(`"${entry}" is not an origin like https://shop.example, http://127.0.0.1:* or https://*.shop.example`);
  const [, scheme, rawHost, rawPort] = match;
  const protocol = `${scheme}:` as OriginPattern['protocol'];
  const port = rawPort === undefined ? '' : rawPort === '*' ? '*' : normalPort(protocol, rawPort, entry);
  if (rawHost === '*') return { protocol, host: '*', port: rawPort === undefined ? '*' : port };
  const wildcard = rawHost.startsWith('*.');
  const host = toUrl(`${scheme}://${wildcard ? rawHost.slice(2) : rawHost}`)?.hostname;
  if (host === undefined || host === '') throw new Error(`"${entry}" does not name a valid host`);
  return { protocol, host: wildcard ? `.${host}` : host, port };
}

function normalPort(protocol: string, raw: string, entry: string): string {
  const port = Number(raw);
  if (port < 1 || port > 65535) throw new Error(`"${entry}" has a port out of range`);
  const isDefault = (protocol === 'http:' && port === 80) || (protocol === 'https:' && port === 443);
  return isDefault ? '' : String(port);
}

function matches(pattern: OriginPattern, url: URL): boolean {
  if (url.protocol !== pattern.protocol) return false;
  if (pattern.port !== '*' && url.port !== pattern.port) return false;
  if (pattern.host === '*') return true;
  if (pattern.host.startsWith('.')) return url.hostname.endsWith(pattern.host) && url.hostname.length > pattern.host.length;
  return url.hostname === pattern.host;
}

function toUrl(value: string | URL): URL | undefined {
  if (value instanceof URL) return value;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}
