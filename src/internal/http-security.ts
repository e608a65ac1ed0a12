import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** The cookie the page gets once opened with `?token=`; every later request carries it. */
export const TOKEN_COOKIE = 'aitq_token';

/** A new random token: 32 bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares in constant time (over digests, so the lengths leak nothing either). */
export function sameToken(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The value of one cookie of a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** The token a request carries: `Authorization: Bearer`, the cookie, or `?token=`. */
export function tokenOf(request: IncomingMessage, url: URL): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim();
  return (
    cookieValue(request.headers.cookie, TOKEN_COOKIE) ?? url.searchParams.get('token') ?? undefined
  );
}

/** `host:port` → `host` (brackets of an IPv6 literal removed), lower case. */
export function hostnameOf(host: string): string {
  const trimmed = host.trim().toLowerCase();
  if (trimmed.startsWith('[')) {
    const end = trimmed.indexOf(']');
    return end === -1 ? trimmed : trimmed.slice(1, end);
  }
  const colon = trimmed.lastIndexOf(':');
  return colon === -1 ? trimmed : trimmed.slice(0, colon);
}

/**
 * A `Host` the server answers: an IP literal, `localhost`, or a name the user allowed. Any other
 * name may be a DNS-rebinding page that resolved its own domain to this machine.
 */
export function isAllowedHost(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (host === undefined || host === '') return false;
  const name = hostnameOf(host);
  return isIP(name) !== 0 || name === 'localhost' || allowed.has(name);
}

/**
 * A request from a page of another origin (CSRF): its `Origin` names another host than the one
 * it was sent to. Requests without `Origin` (curl, Prometheus, same-origin GETs) pass.
 */
export function isCrossOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  if (origin === 'null') return true;
  try {
    return new URL(origin).host.toLowerCase() !== (request.headers.host ?? '').toLowerCase();
  } catch {
    return true;
  }
}
