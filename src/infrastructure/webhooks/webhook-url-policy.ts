import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { WebhookUrlPolicy } from '../../application/ports/webhook-store.port.js';

/** Addresses a merchant's receiver can't be at: this host, private networks, link-local, and the like. */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96]] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/** True for a loopback, private, link-local, multicast, reserved or documentation address (IPv4-mapped IPv6 included). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped !== null ? PRIVATE.check(mapped[1], 'ipv4') : PRIVATE.check(address, 'ipv6');
}

const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '');

export interface UrlPolicyOptions {
  /** WEBHOOK_ALLOW_PRIVATE: private and loopback receivers allowed (development, tests). */
  readonly allowPrivate: boolean;
  /** The service's own public base URL (deliveries to itself are refused). */
  readonly ownBaseUrl: () => string;
}

/** Checks a webhook URL at creation; the sender checks the addresses again when it connects (guardedLookup). */
export class HostWebhookUrlPolicy implements WebhookUrlPolicy {
  constructor(private readonly options: UrlPolicyOptions) {}

  async refusal(raw: string): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return 'must be an absolute http(s) URL';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http(s) URL';
    if (url.username !== '' || url.password !== '') return 'must not carry credentials (a delivery is authenticated by its signature)';
    if (url.origin === new URL(this.options.ownBaseUrl()).origin) return 'must not be Payguard itself';
    if (this.options.allowPrivate) return null;
    const host = hostOf(url);
    let addresses: string[];
    try {
      addresses = isIP(host) !== 0 ? [host] : (await lookup(host, { all: true, verbatim: true })).map((found) => found.address);
    } catch {
      return `its host ${host} does not resolve`;
    }
    const blocked = addresses.find(isPrivateAddress);
    return blocked === undefined ? null : privateRefusal(host, blocked);
  }

  /** The same check as the connection's lookup, for a host that is an address (no lookup is made for those). */
  literalRefusal(url: URL): string | null {
    const host = hostOf(url);
    if (url.origin === new URL(this.options.ownBaseUrl()).origin) return 'refused: the URL is Payguard itself';
    return !this.options.allowPrivate && isIP(host) !== 0 && isPrivateAddress(host) ? privateRefusal(host, host) : null;
  }

  /**
   * The DNS lookup a delivery connects with: every address the host resolves to is checked, and
   * the connection goes to one of those checked, so a host can't resolve to a public address when
   * the endpoint is created and to a private one when it is called.
   */
  get lookup(): LookupFunction {
    const allowPrivate = this.options.allowPrivate;
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, found: LookupAddress[]) => {
        if (error) return callback(error, '', 0);
        const blocked = allowPrivate ? undefined : found.find((entry) => isPrivateAddress(entry.address));
        if (blocked !== undefined) return callback(Object.assign(new Error(privateRefusal(hostname, blocked.address)), { code: 'EWEBHOOKPRIVATE' }), '', 0);
        if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, found);
        callback(null, found[0].address, found[0].family);
      });
    };
  }
}

function privateRefusal(host: string, address: string): string {
  const via = host === address ? '' : ` (${host} resolves to it)`;
  return `${address}${via} is a private, loopback or link-local address; set WEBHOOK_ALLOW_PRIVATE=true to allow such receivers`;
}
