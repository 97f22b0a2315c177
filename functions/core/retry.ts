/**
 * Backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the delay
 * before retry n is uniform in [0, min(cap, base * 2^n)]. The budget is the invocation's remaining
 * time: a retry is only taken when its delay plus a safety margin still fits.
 */

export interface RetryPolicy {
  /** Total tries of one call, the first included. Default 8. */
  maxAttempts: number;
  /** First backoff ceiling in ms. Default 100. */
  baseMs: number;
  /** Largest backoff ceiling in ms. Default 5000. */
  capMs: number;
  /** Time kept back for the rest of the invocation (verify, logging). Default 2000. */
  reserveMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseMs: 100, capMs: 5_000, reserveMs: 2_000 };

/** Delay before retry number `retry` (0 for the first retry), given a uniform random in [0, 1). */
export function backoffDelay(retry: number, policy: RetryPolicy, random: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(retry, 30));
  return Math.floor(random * ceiling);
}

/** Whether one more try fits: attempts left, and the delay still fits the remaining time. */
export function mayRetry(
  attemptsMade: number,
  delayMs: number,
  remainingMs: number,
  policy: RetryPolicy,
): boolean {
  return attemptsMade < policy.maxAttempts && delayMs + policy.reserveMs < remainingMs;
}
