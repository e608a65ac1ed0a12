import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_HEADER_DURATION_MS,
  parseRateLimitHeaders,
  RETRY_AFTER_STATUSES,
} from '../../src/providers/headers.js';
import { RATE_LIMIT_HEADERS, RETRY_AFTER_HEADERS } from '../helpers/rate-limit-headers.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('parseRateLimitHeaders', () => {
  it('reads every x-ratelimit header, durations in OpenAI notation', () => {
    const headers = new Headers({
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-remaining-requests': '499',
      'x-ratelimit-reset-requests': '120ms',
      'x-ratelimit-limit-tokens': '200000',
      'x-ratelimit-remaining-tokens': '199000',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    expect(parseRateLimitHeaders(headers, NOW)).toStrictEqual({
      limitRequests: 500,
      remainingRequests: 499,
      resetRequestsMs: 120,
      limitTokens: 200_000,
      remainingTokens: 199_000,
      resetTokensMs: 360_000,
    });
  });

  it.each([
    ['1s', 1_000],
    ['20ms', 20],
    ['8.64s', 8_640],
    ['1m30s', 90_000],
    ['0s', 0],
  ])('reads the reset duration %s', (value, ms) => {
    const headers = new Headers({ 'x-ratelimit-reset-requests': value });
    expect(parseRateLimitHeaders(headers, NOW)).toStrictEqual({ resetRequestsMs: ms });
  });

  it('returns an empty object, with no undefined keys, when no header is present', () => {
    const hints = parseRateLimitHeaders(new Headers({ 'content-type': 'application/json' }), NOW);
    expect(hints).toStrictEqual({});
    expect(Object.keys(hints)).toHaveLength(0);
  });

  it('ignores malformed values and keeps the well-formed ones', () => {
    const headers = new Headers({
      'x-ratelimit-limit-requests': 'lots',
      'x-ratelimit-remaining-requests': '-1',
      'x-ratelimit-reset-requests': '6 minutes',
      'x-ratelimit-limit-tokens': '1.5',
      'x-ratelimit-remaining-tokens': '',
      'x-ratelimit-reset-tokens': '1s',
      'retry-after-ms': 'soon',
      'retry-after': 'later',
    });
    const hints = parseRateLimitHeaders(headers, NOW);
    expect(hints).toStrictEqual({ resetTokensMs: 1_000 });
    expect(Object.keys(hints)).toStrictEqual(['resetTokensMs']);
  });

  it('prefers retry-after-ms to retry-after', () => {
    const headers = new Headers({ 'retry-after-ms': '1500', 'retry-after': '2' });
    expect(parseRateLimitHeaders(headers, NOW)).toStrictEqual({ retryAfterMs: 1_500 });
  });

  it('falls back to retry-after (seconds) when retry-after-ms is malformed', () => {
    const headers = new Headers({ 'retry-after-ms': '-5', 'retry-after': '2' });
    expect(parseRateLimitHeaders(headers, NOW)).toStrictEqual({ retryAfterMs: 2_000 });
  });

  it('reads fractional retry-after seconds', () => {
    expect(parseRateLimitHeaders(new Headers({ 'retry-after': '0.5' }), NOW)).toStrictEqual({
      retryAfterMs: 500,
    });
  });

  it('reads an HTTP-date retry-after relative to the injected now', () => {
    const date = new Date(NOW + 30_000).toUTCString(); // "Wed, 15 Jan 2025 12:00:30 GMT"
    expect(parseRateLimitHeaders(new Headers({ 'retry-after': date }), NOW)).toStrictEqual({
      retryAfterMs: 30_000,
    });
    // The same header read later means a shorter wait: only `now` decides.
    expect(parseRateLimitHeaders(new Headers({ 'retry-after': date }), NOW + 10_000)).toStrictEqual(
      { retryAfterMs: 20_000 },
    );
  });

  it('reads a past HTTP date as no wait, and ignores the date form without a clock', () => {
    const past = new Date(NOW - 5_000).toUTCString();
    expect(parseRateLimitHeaders(new Headers({ 'retry-after': past }), NOW)).toStrictEqual({
      retryAfterMs: 0,
    });
    expect(parseRateLimitHeaders(new Headers({ 'retry-after': past }))).toStrictEqual({});
  });

  it('reads the three HTTP date forms as GMT, whatever the host time zone', () => {
    const forms = [
      'Wed, 15 Jan 2025 12:00:30 GMT', // IMF-fixdate
      'Wednesday, 15-Jan-25 12:00:30 GMT', // RFC 850
      'Wed Jan 15 12:00:30 2025', // asctime: no zone written, GMT by RFC 9110
    ];
    const zone = process.env.TZ;
    try {
      for (const tz of ['UTC', 'America/New_York', 'Asia/Tokyo']) {
        process.env.TZ = tz;
        for (const value of forms) {
          expect(
            parseRateLimitHeaders(new Headers({ 'retry-after': value }), NOW),
            `${tz}: ${value}`,
          ).toStrictEqual({ retryAfterMs: 30_000 });
        }
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('ignores date-like retry-after values that are not HTTP dates', () => {
    for (const value of ['-5', '2025-01-15', 'Someday, never']) {
      expect(parseRateLimitHeaders(new Headers({ 'retry-after': value }), NOW)).toStrictEqual({});
    }
  });

  it('ignores a wait that would end past any date or beyond 100 years, passing long ones on', () => {
    const year = 365.25 * 24 * 3_600_000;
    // 9e15 ms from now is past the last valid Date (8.64e15): it used to become an Invalid Date.
    for (const headers of [
      { 'retry-after-ms': '9000000000000000' },
      { 'retry-after-ms': '9'.repeat(400) },
      { 'retry-after': '4000000000' }, // 127 years
      { 'retry-after': 'Fri, 31 Dec 9999 23:59:59 GMT' },
      { 'x-ratelimit-reset-requests': '1000000h' }, // 114 years
      { 'x-ratelimit-reset-tokens': `${'9'.repeat(400)}s` },
    ]) {
      expect(
        parseRateLimitHeaders(new Headers(headers), NOW),
        JSON.stringify(headers),
      ).toStrictEqual({});
    }
    // Long but well formed: passed on as stated, for the engine's maxServerWait to judge.
    expect(
      parseRateLimitHeaders(
        new Headers({ 'retry-after': '1000000000', 'x-ratelimit-reset-requests': '100000h' }),
        NOW,
      ),
    ).toStrictEqual({ retryAfterMs: 1e12, resetRequestsMs: 3.6e11 });
    expect(parseRateLimitHeaders(new Headers({ 'retry-after-ms': String(year) }))).toStrictEqual({
      retryAfterMs: year,
    });
    expect(MAX_HEADER_DURATION_MS).toBe(100 * year);
    // A wait that is well formed but ends past the last valid Date for this clock: ignored.
    expect(parseRateLimitHeaders(new Headers({ 'retry-after': '60' }), 8.64e15)).toStrictEqual({});
  });

  it('falls back to retry-after when retry-after-ms is too large to be a wait', () => {
    const headers = new Headers({ 'retry-after-ms': '9000000000000000', 'retry-after': '2' });
    expect(parseRateLimitHeaders(headers, NOW)).toStrictEqual({ retryAfterMs: 2_000 });
  });

  it('reads retry-after only on a 429 or a 503 when the status is given', () => {
    const headers = new Headers({
      'retry-after': '30',
      'retry-after-ms': '30000',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1s',
    });
    const limits = { remainingRequests: 0, resetRequestsMs: 1_000 };
    expect(RETRY_AFTER_STATUSES).toStrictEqual([429, 503]);
    for (const status of [429, 503]) {
      expect(parseRateLimitHeaders(headers, NOW, status)).toStrictEqual({
        retryAfterMs: 30_000,
        ...limits,
      });
    }
    for (const status of [200, 201, 204, 400, 408, 500, 502, 504]) {
      expect(parseRateLimitHeaders(headers, NOW, status), String(status)).toStrictEqual(limits);
    }
    // Without a status, as before: read.
    expect(parseRateLimitHeaders(headers, NOW).retryAfterMs).toBe(30_000);
  });

  it('returns only finite values, each wait ending at a valid date, whatever the headers say', () => {
    const number = fc.oneof(
      fc.stringMatching(/^\d{1,25}(\.\d{0,4})?$/),
      fc.stringMatching(/^-?\d{0,6}(\.\d{0,2})?(e\d{1,3})?$/),
    );
    const duration = fc.oneof(
      number,
      fc.tuple(number, fc.constantFrom('h', 'm', 's', 'ms', 'us', 'ns')).map(([n, u]) => n + u),
    );
    const value = fc.oneof(
      number,
      duration,
      fc.string(),
      fc.date().map((d) => d.toUTCString()),
    );
    const names = [...RETRY_AFTER_HEADERS, ...RATE_LIMIT_HEADERS];
    const headerSets = fc.dictionary(fc.constantFrom(...names), value);
    const clock = fc.oneof(fc.constant(NOW), fc.integer({ min: -8.64e15, max: 8.64e15 }));
    fc.assert(
      fc.property(headerSets, clock, (set, now) => {
        const entries = Object.entries(set).filter(([, v]) => !/[\r\n\0]/.test(v));
        let headers: Headers;
        try {
          headers = new Headers(entries);
        } catch {
          return; // not a header value fetch would ever hand over
        }
        const hints = parseRateLimitHeaders(headers, now);
        for (const [key, ms] of Object.entries(hints)) {
          expect(Number.isFinite(ms), key).toBe(true);
          expect(ms, key).toBeGreaterThanOrEqual(0);
          if (key.endsWith('Ms')) {
            expect(ms, key).toBeLessThanOrEqual(MAX_HEADER_DURATION_MS);
            expect(() => new Date(now + ms).toISOString(), key).not.toThrow();
          } else {
            expect(Number.isSafeInteger(ms), key).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
