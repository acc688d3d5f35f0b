import helmet from 'helmet';

/**
 * The Content-Security-Policy of every answer. The service's own pages (the channel return page,
 * the sandbox's pay page, problem pages) and the OpenAPI UI at /docs load scripts only from their
 * own origin (Swagger UI's init script is a file, not inline), use inline styles, and data: images
 * (Swagger UI's icons); no page runs inline script, and none may be framed (clickjacking of a pay
 * button). No form-action: the sandbox's pay form is answered by a redirect to the merchant's
 * returnUrl, on another origin, which browsers check against form-action too.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'none'"],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/**
 * Security headers on every answer (helmet): the policy above, X-Content-Type-Options: nosniff,
 * X-Frame-Options: DENY, Referrer-Policy: no-referrer (a return URL's query names the order),
 * Strict-Transport-Security (ignored by browsers over plain HTTP), and helmet's cross-origin
 * isolation headers. Registered before the body parsers, so that their own refusals carry them too.
 */
export function securityHeaders() {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}
