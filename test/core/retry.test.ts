import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RETRY, mayRetry } from '../../functions/core/retry.ts';

describe('full-jitter backoff', () => {
  it('grows the ceiling exponentially up to the cap', () => {
    const p = { ...DEFAULT_RETRY, baseMs: 100, capMs: 1000 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, p, 0.999999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
  });

  it('is uniform over [0, ceiling): the random draw scales it', () => {
    expect(backoffDelay(2, DEFAULT_RETRY, 0)).toBe(0);
    expect(backoffDelay(2, DEFAULT_RETRY, 0.5)).toBe(200);
  });

  it('does not overflow for large retry numbers', () => {
    expect(backoffDelay(10_000, DEFAULT_RETRY, 0.5)).toBe(DEFAULT_RETRY.capMs / 2);
  });

  it('retries only while attempts remain and the delay fits the remaining time', () => {
    const p = { ...DEFAULT_RETRY, maxAttempts: 3, reserveMs: 500 };
    expect(mayRetry(1, 100, 10_000, p)).toBe(true);
    expect(mayRetry(3, 100, 10_000, p)).toBe(false);
    expect(mayRetry(1, 600, 1_000, p)).toBe(false);
  });
});
