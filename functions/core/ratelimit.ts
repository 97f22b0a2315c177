/**
 * Client-side adaptive rate limiting, for bursts. When many resources are created at once, every
 * function instance calls the same per-account API quota; with retries alone (full jitter) the
 * calls that were throttled several times back off for seconds while fresh calls take every slot
 * that frees up, so some events run out of attempts and fail although the API had room for them
 * (npm run bench, "burst", shows both numbers). A limiter paces each instance's calls instead:
 * nothing is limited until the first throttle, then the instance sends at most a rate that is cut
 * multiplicatively on every throttle and grows back along a cubic curve (CUBIC, RFC 9438 — the
 * same scheme as the AWS SDKs' "adaptive" retry mode) towards the rate that was last throttled.
 *
 * It is a decorator around a Remediator (`withRateLimit`), so the engine needs no change: reads
 * and writes are limited separately because cloud APIs give them separate quotas. One limiter per
 * function instance (module scope), shared by the invocations that instance serves.
 */
import { ThrottledError } from './errors.ts';
import type { Remediator, Target } from './remediator.ts';

export type CallKind = 'read' | 'write';

/**
 * The port: wait before a call, report how it went. `scope` names the quota the call counts
 * against — `<account>/<region>` (withRateLimit passes it): a cloud API's quota is per account
 * and region, so one noisy account must not slow the others.
 */
export interface RateLimiter {
  /** Resolves when a call of this kind may be sent. */
  acquire(kind: CallKind, scope?: string): Promise<void>;
  /** Reports one finished call; `throttled` when the API answered with its rate-limit error. */
  record(kind: CallKind, throttled: boolean, scope?: string): void;
}

export interface AdaptiveRateLimiterOptions {
  /** Multiplicative decrease on a throttle. Default 0.7 (CUBIC's beta). */
  beta?: number;
  /** CUBIC's scaling constant C, in calls/s per s³. Default 0.4. */
  scale?: number;
  /** Never pace slower than this many calls per second. Default 0.5. */
  minRate?: number;
  /** Default Date.now. */
  now?: () => number;
  /** Default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

/** Width of the buckets the instance's own send rate is measured over. */
const MEASURE_MS = 500;
/** Weight of the newest bucket in the smoothed send rate. */
const SMOOTHING = 0.8;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One API family's state: a token bucket of capacity 1 refilled at `rate`, and CUBIC around it. */
class Bucket {
  /** False until the first throttle: an instance that is never throttled is never slowed. */
  enabled = false;
  rate = Number.POSITIVE_INFINITY;
  private tokens = 1;
  private lastRefill = 0;
  /** The rate at the last throttle (CUBIC's W_max) and when it happened. */
  private maxRate = 0;
  private throttledAt = 0;
  /** Calls per second this instance actually sent, smoothed. */
  private measured = 0;
  private bucketStart = -1;
  private bucketCount = 0;

  constructor(private readonly options: Required<Omit<AdaptiveRateLimiterOptions, 'now' | 'sleep'>>) {}

  /** Milliseconds to wait before a token is available (0: take it now). */
  take(now: number): number {
    if (!this.enabled) return 0;
    this.tokens = Math.min(1, this.tokens + ((now - this.lastRefill) / 1000) * this.rate);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  record(now: number, throttled: boolean): void {
    const sent = this.measure(now);
    const { beta, scale, minRate } = this.options;
    let next: number;
    if (throttled) {
      // Cut from what was really being sent: an idle bucket's nominal rate means nothing.
      this.maxRate = this.enabled ? Math.min(sent, this.rate) : sent;
      this.throttledAt = now;
      next = this.maxRate * beta;
      if (!this.enabled) {
        this.enabled = true;
        this.tokens = 0;
        this.lastRefill = now;
      }
    } else {
      if (!this.enabled) return;
      const k = Math.cbrt((this.maxRate * (1 - beta)) / scale);
      const t = (now - this.throttledAt) / 1000;
      next = scale * (t - k) ** 3 + this.maxRate;
    }
    // Never more than twice what was really sent: growth is probed, not assumed.
    this.rate = Math.max(minRate, Math.min(next, 2 * Math.max(sent, minRate)));
  }

  /** Updates and returns the smoothed send rate (calls/s), counting this call. */
  private measure(now: number): number {
    if (this.bucketStart < 0) this.bucketStart = now;
    this.bucketCount += 1;
    const elapsed = now - this.bucketStart;
    if (elapsed >= MEASURE_MS) {
      const current = (this.bucketCount * 1000) / elapsed;
      this.measured = this.measured === 0 ? current : SMOOTHING * current + (1 - SMOOTHING) * this.measured;
      this.bucketStart = now;
      this.bucketCount = 0;
      return this.measured;
    }
    // Before the first full bucket, the rate so far (at least 50 ms, so one call is not "infinite").
    return this.measured === 0 ? (this.bucketCount * 1000) / Math.max(elapsed, 50) : this.measured;
  }
}

export class AdaptiveRateLimiter implements RateLimiter {
  private readonly buckets: Record<CallKind, Bucket>;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: AdaptiveRateLimiterOptions = {}) {
    const tuning = {
      beta: options.beta ?? 0.7,
      scale: options.scale ?? 0.4,
      minRate: options.minRate ?? 0.5,
    };
    this.buckets = { read: new Bucket(tuning), write: new Bucket(tuning) };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
  }

  async acquire(kind: CallKind): Promise<void> {
    const bucket = this.buckets[kind];
    for (let wait = bucket.take(this.now()); wait > 0; wait = bucket.take(this.now())) await this.sleep(wait);
  }

  record(kind: CallKind, throttled: boolean): void {
    this.buckets[kind].record(this.now(), throttled);
  }

  /** The current pace of a kind in calls per second (Infinity until its first throttle). For logs and tests. */
  rate(kind: CallKind): number {
    return this.buckets[kind].rate;
  }
}

/** The quota a target's calls count against: its account in its region. */
export const scopeOf = (target: Pick<Target, 'account' | 'region'>): string =>
  `${target.account}/${target.region}`;

export interface ScopedRateLimiterOptions extends AdaptiveRateLimiterOptions {
  /** Scopes kept at most; the least recently used is dropped (it starts unthrottled again). Default 2 000. */
  maxScopes?: number;
}

/**
 * One AdaptiveRateLimiter per scope (account/region): a throttle in one account's quota paces
 * only that account's calls. Background calls (a sweep, `withRateLimit(…, { background: true })`)
 * wait while a live call of the same scope is waiting for its turn, so a sweep never takes the
 * slot a live event is queued for.
 */
export class ScopedRateLimiter implements RateLimiter {
  private readonly limiters = new Map<string, AdaptiveRateLimiter>();
  private readonly waiting = new Map<string, number>();
  private readonly max: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: ScopedRateLimiterOptions = {}) {
    this.max = options.maxScopes ?? 2_000;
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** The limiter of a scope (made on first use). */
  of(scope = ''): AdaptiveRateLimiter {
    let limiter = this.limiters.get(scope);
    if (limiter === undefined) {
      limiter = new AdaptiveRateLimiter(this.options);
      if (this.limiters.size >= this.max) {
        const oldest = this.limiters.keys().next().value;
        if (oldest !== undefined) this.limiters.delete(oldest);
      }
    } else this.limiters.delete(scope);
    this.limiters.set(scope, limiter);
    return limiter;
  }

  async acquire(kind: CallKind, scope = ''): Promise<void> {
    const key = `${kind} ${scope}`;
    this.waiting.set(key, (this.waiting.get(key) ?? 0) + 1);
    try {
      await this.of(scope).acquire(kind);
    } finally {
      const left = (this.waiting.get(key) ?? 1) - 1;
      if (left > 0) this.waiting.set(key, left);
      else this.waiting.delete(key);
    }
  }

  /** A background call: yields to live calls of the same scope, then takes its turn. */
  async acquireBackground(kind: CallKind, scope = ''): Promise<void> {
    const key = `${kind} ${scope}`;
    for (let i = 0; (this.waiting.get(key) ?? 0) > 0 && i < 10_000; i++) await this.sleep(10);
    await this.acquire(kind, scope);
  }

  record(kind: CallKind, throttled: boolean, scope = ''): void {
    this.limiters.get(scope)?.record(kind, throttled);
  }

  /** Scopes currently tracked. */
  get size(): number {
    return this.limiters.size;
  }
}

export interface WithRateLimitOptions {
  /** Calls of a sweep: they yield to live calls of the same scope (ScopedRateLimiter). Default false. */
  background?: boolean;
}

/** The same remediator, with every read and write paced by `limiter` in its target's scope. */
export function withRateLimit<T extends Target, D, S>(
  remediator: Remediator<T, D, S>,
  limiter: RateLimiter,
  options: WithRateLimitOptions = {},
): Remediator<T, D, S> {
  const acquire = (kind: CallKind, scope: string): Promise<void> =>
    options.background && limiter instanceof ScopedRateLimiter
      ? limiter.acquireBackground(kind, scope)
      : limiter.acquire(kind, scope);
  const limited =
    <A extends [T, ...unknown[]], R>(kind: CallKind, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const scope = scopeOf(args[0]);
      await acquire(kind, scope);
      try {
        const result = await fn(...args);
        limiter.record(kind, false, scope);
        return result;
      } catch (error) {
        limiter.record(kind, remediator.classify(error) instanceof ThrottledError, scope);
        throw error;
      }
    };
  return {
    ...remediator,
    read: limited('read', (target: T) => remediator.read(target)),
    apply: limited('write', (target: T, desired: D, state: S) => remediator.apply(target, desired, state)),
  };
}
