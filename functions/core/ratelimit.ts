/**
 * Client-side adaptive rate limiting, for bursts. When many resources are created at once, every
 * function instance calls the same per-account API quota; with retries alone (full jitter) the
 * calls that were throttled several times back off for seconds while fresh calls take every slot
 * that frees up, so some events run out of attempts and fail although the API had room for them
 * (npm run bench, "burst", shows both numbers). A limiter paces each instance's calls instead:
 * nothing is limited until the first throttle; from then on the instance sends at most a rate
 * derived from what the API really accepted.
 *
 * The shape is CUBIC's (RFC 9438, also the AWS SDKs' "adaptive" retry mode: DefaultRateLimiter in
 * @smithy/util-retry): on a throttle the ceiling W is set from a measured rate, the pace drops to
 * beta·W, climbs back to W along a concave curve, stays near it, and only then probes beyond.
 * Two things differ, because API quotas are small (a few calls per second per account-region)
 * where TCP windows are large:
 *  - W is the rate of calls the API *accepted* over the last seconds, not the rate sent: above the
 *    quota the accepted rate is the quota, whatever was sent, so one throttle finds the quota
 *    instead of cutting 30 % from an overshoot again and again.
 *  - The curve is scaled to W (it returns to W after `recoverMs` whatever W is), so a quota of
 *    2 calls/s is probed as gently as one of 200; with CUBIC's absolute constant a 2/s ceiling was
 *    overshot within two seconds of every cut, and most of a small quota went to refused calls.
 * Throttles answered within one hold-off after a cut are not cut again: those calls were sent at
 * the old pace. Waiters are served first in, first out by one timer per bucket (no herd waking up
 * together after a back-off), live calls before background (sweep) calls.
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
  /** Pace right after a throttle, as a fraction of the accepted rate measured then. Default 0.85. */
  beta?: number;
  /**
   * Where the pace levels off after a cut, as a fraction of the measured ceiling. Default 0.95:
   * calls reach the API with a few ms of jitter, and a quota counted per second refuses the call
   * that arrives early even when the average pace is exactly the quota.
   */
  plateau?: number;
  /** Milliseconds after a cut at which the pace reaches its plateau (then it probes beyond). Default 8000. */
  recoverMs?: number;
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
/** The accepted rate is measured over the last this many ms (at least one second of them). */
const ACCEPTED_WINDOW_MS = 2_000;
/** Accepted-call timestamps kept at most (a quota above 5,000 calls/s is measured over less). */
const ACCEPTED_MAX = 10_000;
/** Calls/s per s³: the least the pace grows once past its plateau (a quarter of CUBIC's C). */
const PROBE_SCALE = 0.1;
/** Least hold-off after a cut; quotas are counted over windows of about a second. */
const HOLD_MS = 1_000;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Tuning = Required<Omit<AdaptiveRateLimiterOptions, 'now' | 'sleep'>>;

/** One API family's state: a token bucket of capacity 1 refilled at `rate`, and the curve around it. */
class Bucket {
  /** False until the first throttle: an instance that is never throttled is never slowed. */
  enabled = false;
  rate = Number.POSITIVE_INFINITY;
  /** The ceiling: calls/s the API accepted when it last throttled (CUBIC's W_max). */
  ceiling = 0;
  /** Throttled calls answered, cuts made (for logs and tests). */
  throttles = 0;
  cuts = 0;
  private tokens = 1;
  private lastRefill = 0;
  private cutAt = 0;
  /** Whether the ceiling was re-measured once the hold-off after the last cut ended. */
  private settled = true;
  /** When each recent accepted call was answered, oldest first. */
  private readonly accepted: number[] = [];
  private firstSeen = -1;
  /** Calls per second this instance actually sent, smoothed. */
  private measured = 0;
  private bucketStart = -1;
  private bucketCount = 0;
  /** Waiters in arrival order; live ones are served before background ones. */
  readonly queue: { background: boolean; go: () => void }[] = [];
  pumping = false;

  constructor(private readonly options: Tuning) {}

  /** Milliseconds to wait before a token is available (0: take it now). */
  take(now: number): number {
    if (!this.enabled) return 0;
    this.tokens = Math.min(1, this.tokens + ((now - this.lastRefill) / 1000) * this.rate);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.rate) * 1000));
  }

  record(now: number, throttled: boolean): void {
    if (this.firstSeen < 0) this.firstSeen = now;
    const sent = this.measure(now);
    const { beta, minRate } = this.options;
    if (throttled) {
      this.throttles += 1;
      // Answers to calls sent before the last cut say nothing about the new pace.
      if (this.enabled && now - this.cutAt < this.holdMs()) return;
      this.ceiling = Math.max(minRate, this.acceptedRate(now));
      this.cutAt = now;
      this.settled = false;
      this.cuts += 1;
      if (!this.enabled) {
        this.enabled = true;
        this.tokens = 0;
        this.lastRefill = now;
      }
      this.rate = Math.max(minRate, beta * this.ceiling);
      return;
    }
    this.accepted.push(now);
    if (this.accepted.length > ACCEPTED_MAX) this.accepted.shift();
    if (!this.enabled) return;
    if (!this.settled && now - this.cutAt >= HOLD_MS) {
      // The answers that were in flight at the cut are in: the throttles of a burst often come
      // back before the calls the API accepted, so the ceiling may have been measured low. The
      // busier second on either side of the cut is what the API accepted in one second.
      this.settled = true;
      const before = this.countAccepted(this.cutAt - 1000, this.cutAt);
      const after = this.countAccepted(this.cutAt, this.cutAt + 1000);
      this.ceiling = Math.max(this.ceiling, before, after);
    }
    const k = this.options.recoverMs / 1000;
    const t = (now - this.cutAt) / 1000;
    const m = this.options.plateau;
    // Past the plateau the probe also grows by an absolute cubic term (PROBE_SCALE),
    // so a ceiling measured far too low (a quota shared with calls this limiter does not see)
    // is left within seconds, not minutes.
    const curve = this.ceiling * (m + (m - beta) * ((t - k) / k) ** 3);
    const next = t > k ? Math.max(curve, this.ceiling * m + PROBE_SCALE * (t - k) ** 3) : curve;
    // Never more than twice what was really sent: growth is probed, not assumed.
    this.rate = Math.max(minRate, Math.min(next, 2 * Math.max(sent, minRate)));
  }

  private holdMs(): number {
    return Math.max(HOLD_MS, 2000 / this.rate);
  }

  /** Accepted calls answered in (from, to]. */
  private countAccepted(from: number, to: number): number {
    let n = 0;
    for (const at of this.accepted) if (at > from && at <= to) n++;
    return n;
  }

  /**
   * Calls/s the API accepted over the last ACCEPTED_WINDOW_MS: the spacing of the accepted calls
   * (a count over a window of a few seconds says 1.5/s for a 2/s quota, one call more or less),
   * but never more than the most accepted in one second (a burst accepted at once has no spacing).
   */
  private acceptedRate(now: number): number {
    const a = this.accepted;
    while (a.length > 0 && (a[0] ?? 0) <= now - ACCEPTED_WINDOW_MS) a.shift();
    const n = a.length;
    const first = a[0] ?? now;
    const last = a[n - 1] ?? now;
    if (n < 3 || last - first < 1) {
      const span = Math.min(ACCEPTED_WINDOW_MS, Math.max(1000, now - this.firstSeen));
      return (n * 1000) / span;
    }
    let peak = 0;
    for (let lo = 0, hi = 0; hi < n; hi++) {
      while ((a[lo] ?? 0) <= (a[hi] ?? 0) - 1000) lo++;
      peak = Math.max(peak, hi - lo + 1);
    }
    return Math.min(((n - 1) * 1000) / (last - first), peak);
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

export interface AcquireOptions {
  /** A background (sweep) call: served after every live call waiting in the same bucket. */
  background?: boolean;
}

export class AdaptiveRateLimiter implements RateLimiter {
  private readonly buckets: Record<CallKind, Bucket>;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: AdaptiveRateLimiterOptions = {}) {
    const tuning: Tuning = {
      beta: options.beta ?? 0.85,
      plateau: options.plateau ?? 0.95,
      recoverMs: options.recoverMs ?? 8_000,
      minRate: options.minRate ?? 0.5,
    };
    this.buckets = { read: new Bucket(tuning), write: new Bucket(tuning) };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** `scope` is ignored: one AdaptiveRateLimiter is one scope (ScopedRateLimiter keeps one per scope). */
  acquire(kind: CallKind, _scope?: string, options: AcquireOptions = {}): Promise<void> {
    const bucket = this.buckets[kind];
    if (bucket.queue.length === 0 && bucket.take(this.now()) === 0) return Promise.resolve();
    return new Promise<void>((go) => {
      bucket.queue.push({ background: options.background ?? false, go });
      if (!bucket.pumping) void this.pump(bucket);
    });
  }

  /** Hands out tokens to the queue in order, one timer at a time; the rate may change meanwhile. */
  private async pump(bucket: Bucket): Promise<void> {
    bucket.pumping = true;
    try {
      while (bucket.queue.length > 0) {
        const wait = bucket.take(this.now());
        if (wait > 0) {
          await this.sleep(wait);
          continue;
        }
        const live = bucket.queue.findIndex((w) => !w.background);
        const [next] = bucket.queue.splice(live < 0 ? 0 : live, 1);
        next?.go();
      }
    } finally {
      bucket.pumping = false;
    }
  }

  record(kind: CallKind, throttled: boolean): void {
    this.buckets[kind].record(this.now(), throttled);
  }

  /** The current pace of a kind in calls per second (Infinity until its first throttle). For logs and tests. */
  rate(kind: CallKind): number {
    return this.buckets[kind].rate;
  }

  /** The ceiling last measured (calls/s accepted when throttled; 0 before any throttle), with counts. */
  stats(kind: CallKind): { rate: number; ceiling: number; throttles: number; cuts: number; waiting: number } {
    const b = this.buckets[kind];
    return {
      rate: b.rate,
      ceiling: b.ceiling,
      throttles: b.throttles,
      cuts: b.cuts,
      waiting: b.queue.length,
    };
  }
}

/** The quota a target's calls count against: its account in its region. */
const scopeOf = (target: Pick<Target, 'account' | 'region'>): string => `${target.account}/${target.region}`;

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

  acquire(kind: CallKind, scope = ''): Promise<void> {
    return this.enter(kind, scope, false);
  }

  private async enter(kind: CallKind, scope: string, background: boolean): Promise<void> {
    const key = `${kind} ${scope}`;
    this.waiting.set(key, (this.waiting.get(key) ?? 0) + 1);
    try {
      await this.of(scope).acquire(kind, scope, { background });
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
    await this.enter(kind, scope, true);
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
