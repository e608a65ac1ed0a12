import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders } from '../../src/providers/headers.js';

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
});
