/**
 * The sweep: every existing resource a remediator lists, through the same engine and idempotency
 * as live events (backfill, and the answer to any missed event). Shared by `atrest sweep` and the
 * scheduled sweep of a deployed function, so both pace themselves the same way.
 *
 * A sweep must never starve live remediations of API quota (a CloudWatch Logs or ECS rate limit
 * is per account and region, shared with the function reacting to new resources). So every
 * remediator read and write first takes a token from a token bucket (`--rate`, default 5/s), and
 * at most `concurrency` resources are in flight. A remediator that lists by pages (`listPage`) has
 * each page paced by the same bucket (the listing call shares the quota too: DescribeLogGroups is
 * one CloudWatch Logs quota), a throttled or failed page retried alone with the engine's retry
 * policy (full-jitter backoff, within the time budget), and — with a cursor store — a scheduled
 * sweep that runs out of time records the page it stopped at, so the next run resumes there
 * instead of starting from the top (a region larger than one invocation is covered across runs).
 * A listing without pages is restarted after a retryable error, skipping what it already yielded,
 * under the same retry policy.
 *
 * The scheduled sweep of a deployed function (Lambda schedule, FC timer) adds the platform-neutral
 * rest: the event that asks for it, `$ATREST_SWEEP_RATE`, the time reserve, and the summary line.
 */
import * as z from 'zod/mini';
import type { Config } from './config.ts';
import { type EngineDeps, remediateTarget, toOutcomeError, unexpected } from './engine.ts';
import { ConfigError, RemediationError } from './errors.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { FunctionId, Outcome } from './outcome.ts';
import type { ListPage, Remediator, Target } from './remediator.ts';
import { backoffDelay, DEFAULT_RETRY, mayRetry, type RetryPolicy } from './retry.ts';
import { type SweepCursorStore, sweepCursorKey } from './sweep-cursor.ts';

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface TokenBucketOptions {
  /** Tokens that may be taken at once after a pause. Default: a tenth of a second's worth, at least 1. */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * At most `perSecond` tokens per second on average, and `burst` at once. Waiters are served in
 * order, so concurrent resources share the rate fairly.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();
  private readonly burst: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly perSecond: number,
    options: TokenBucketOptions = {},
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond))
      throw new RangeError(`perSecond must be a positive number, got ${perSecond}`);
    // A small burst keeps a high rate from sleeping 1 ms per call, while any one second still
    // sees at most perSecond + burst calls.
    this.burst = Math.max(1, options.burst ?? Math.floor(perSecond / 10));
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.tokens = 1;
    this.last = this.now();
  }

  /** Resolves when a token is available (and taken). */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.acquire());
    this.queue = turn.catch(() => {});
    return turn;
  }

  private async acquire(): Promise<void> {
    for (;;) {
      const now = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond)));
    }
  }
}

/** The same remediator, with each read and write waiting for a token first (retries and verify reads included). */
export function metered<T extends Target, D, S>(
  r: Remediator<T, D, S>,
  bucket: TokenBucket,
): Remediator<T, D, S> {
  const list = r.list;
  const listPage = r.listPage;
  return {
    id: r.id,
    owns: (event) => r.owns(event),
    parse: (event, config) => r.parse(event, config),
    desire: (target, config) => r.desire(target, config),
    evaluate: (state, desired, target) => r.evaluate(state, desired, target),
    classify: (error) => r.classify(error),
    async read(target) {
      await bucket.take();
      return r.read(target);
    },
    async apply(target, desired, state) {
      await bucket.take();
      return r.apply(target, desired, state);
    },
    ...(list ? { list: (region: string, config: Config) => list.call(r, region, config) } : {}),
    // Pages are paced by sweepRegion itself (one token per page), not here.
    ...(listPage
      ? {
          listPage: (region: string, config: Config, cursor?: string) =>
            listPage.call(r, region, config, cursor),
        }
      : {}),
  };
}

/** `list` for a remediator that lists by pages: every page, in order. */
export function listAll<T>(
  listPage: (region: string, config: Config, cursor?: string) => Promise<ListPage<T>>,
): (region: string, config: Config) => AsyncIterable<T> {
  return async function* (region, config) {
    let cursor: string | undefined;
    do {
      const page = await listPage(region, config, cursor);
      yield* page.targets;
      cursor = page.next;
    } while (cursor !== undefined);
  };
}

export interface SweepOptions {
  config: Config;
  store: IdempotencyStore;
  /** Read and decide, write nothing. */
  dryRun?: boolean;
  /** Resources in flight at once. Default 4. */
  concurrency?: number;
  /** Paces every read and write. Default: unpaced (tests); callers pass one. */
  bucket?: TokenBucket;
  /** Asked before each resource is started: true stops the sweep there (a time budget). */
  outOfTime?: () => boolean;
  /** Engine knobs (tests inject `sleep`, `random`; a function passes `remainingMs`). */
  engine?: Pick<EngineDeps, 'sleep' | 'random' | 'now' | 'verifyReads' | 'remainingMs' | 'lockSeconds'>;
  /** Called once per resource as soon as its outcome is known (NDJSON, log lines, progress). */
  onOutcome?: (outcome: Outcome) => void;
  /** Called each time the listing yields a new resource. */
  onListed?: (listed: number) => void;
  /** Where a paged listing resumes, and records where it stopped when time ran out. */
  cursors?: SweepCursorStore;
  /** The cursor record's key. Default `sweepCursorKey(function id, region)`. */
  cursorKey?: string;
}

export interface SweepResult {
  region: string;
  /** Distinct resources the listing yielded. */
  listed: number;
  /** One per remediated resource, plus one `failed` line when the listing itself failed. */
  outcomes: Outcome[];
  /** False when the time budget or a listing failure stopped the sweep early. */
  complete: boolean;
  /** The saved cursor this run resumed from (it did not start from the top). */
  resumedFrom?: string;
  /** Where the next run resumes, when this one stopped early and a cursor store keeps it. */
  stoppedAt?: string;
}

/** Sweeps one region: lists, remediates each resource (bounded, paced), never throws for a resource. */
export async function sweepRegion<T extends Target, D, S>(
  remediator: Remediator<T, D, S>,
  region: string,
  options: SweepOptions,
): Promise<SweepResult> {
  const list =
    remediator.list ?? (remediator.listPage ? listAll(remediator.listPage.bind(remediator)) : undefined);
  if (!list) throw new TypeError(`${remediator.id} cannot list its resources`);
  const r = options.bucket ? metered(remediator, options.bucket) : remediator;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const now = options.engine?.now ?? Date.now;
  const sleep = options.engine?.sleep ?? defaultSleep;
  const random = options.engine?.random ?? Math.random;
  const started = now();
  const outcomes: Outcome[] = [];
  const seen = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let complete = true;

  const start = (target: T) => {
    const job = remediateTarget(r, target, {
      ...options.engine,
      config: options.config,
      store: options.store,
      dryRun: options.dryRun ?? false,
    }).then((outcome) => {
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
    });
    inFlight.add(job);
    void job.finally(() => inFlight.delete(job));
  };

  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.config.retry };
  const remaining = options.engine?.remainingMs ?? (() => Number.POSITIVE_INFINITY);
  const listingFailed = async (error: RemediationError) => {
    complete = false;
    const failed: Outcome = {
      function: remediator.id,
      eventId: `sweep:${region}`,
      resource: '',
      region,
      outcome: 'failed',
      attempts: 0,
      durationMs: now() - started,
      dryRun: options.dryRun ?? false,
      error: {
        ...toOutcomeError(error),
        message: `listing failed after ${seen.size} resource(s): ${error.message}`,
      },
    };
    await Promise.all(inFlight);
    outcomes.push(failed);
    options.onOutcome?.(failed);
  };
  /** False when the time budget is spent: the caller stops listing. */
  const take = async (target: T): Promise<boolean> => {
    if (seen.has(target.resource)) return true;
    if (options.outOfTime?.()) return false;
    seen.add(target.resource);
    options.onListed?.(seen.size);
    start(target);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
    return true;
  };

  let resumedFrom: string | undefined;
  let stoppedAt: string | undefined;
  if (remediator.listPage) {
    const listPage = remediator.listPage;
    const key = options.cursorKey ?? sweepCursorKey(remediator.id, region);
    const cursors = options.cursors;
    // A cursor store that cannot answer costs a restart from the top, never the sweep.
    let cursor = cursors ? await cursors.get(key).catch(() => undefined) : undefined;
    resumedFrom = cursor;
    pages: for (;;) {
      if (options.outOfTime?.()) {
        complete = false;
        break;
      }
      let page: ListPage<T> | undefined;
      for (let tries = 1; page === undefined; tries++) {
        try {
          await options.bucket?.take();
          page = await listPage.call(remediator, region, options.config, cursor);
        } catch (thrown) {
          const error = classifyListing(remediator, thrown);
          // A saved cursor the service no longer accepts (an expired token): start from the top, once.
          if (!error.retryable && cursor !== undefined && cursor === resumedFrom && seen.size === 0) {
            cursor = undefined;
            resumedFrom = undefined;
            continue;
          }
          const delay = backoffDelay(tries - 1, policy, random());
          if (error.retryable && mayRetry(tries, delay, remaining(), policy) && !options.outOfTime?.()) {
            await sleep(delay);
            continue;
          }
          await listingFailed(error);
          break pages;
        }
      }
      for (const target of page.targets)
        if (!(await take(target))) {
          complete = false;
          break pages;
        }
      if (page.next === undefined) break;
      cursor = page.next;
    }
    // Stopped early: the next run resumes at the page this one was on (its done resources are
    // cheap there: idempotency records, or one read). Finished: forget the cursor.
    stoppedAt = complete ? undefined : cursor;
    if (cursors) await cursors.set(key, stoppedAt).catch(() => {});
    if (!cursors) stoppedAt = undefined;
  } else {
    listing: for (let attempt = 1; ; attempt++) {
      try {
        for await (const target of list.call(remediator, region, options.config))
          if (!(await take(target))) {
            complete = false;
            break listing;
          }
        break;
      } catch (thrown) {
        const error = classifyListing(remediator, thrown);
        const delay = backoffDelay(attempt - 1, policy, random());
        if (error.retryable && mayRetry(attempt, delay, remaining(), policy)) {
          await sleep(delay);
          await options.bucket?.take();
          continue;
        }
        await listingFailed(error);
        break;
      }
    }
  }
  await Promise.all(inFlight);
  return {
    region,
    listed: seen.size,
    outcomes,
    complete,
    ...(resumedFrom !== undefined ? { resumedFrom } : {}),
    ...(stoppedAt !== undefined ? { stoppedAt } : {}),
  };
}

function classifyListing<T extends Target, D, S>(r: Remediator<T, D, S>, thrown: unknown): RemediationError {
  try {
    const error = r.classify(thrown);
    return error instanceof RemediationError ? error : unexpected(thrown);
  } catch {
    return unexpected(thrown);
  }
}

// ------------------------------------------------------------------------------------------------
// the scheduled sweep of a deployed function
// ------------------------------------------------------------------------------------------------

/** What a schedule sends to ask for a sweep (AWS rule input, FC timer payload), and nothing else. */
export const SweepEvent = z.strictObject({ atrest: z.strictObject({ sweep: z.literal(true) }) });
export const isSweepEvent = (event: unknown): boolean => SweepEvent.safeParse(event).success;

/** When a scheduled sweep stops starting resources: those in flight finish and the summary is logged. */
export const SWEEP_RESERVE_MS = 20_000;
export const DEFAULT_SWEEP_RATE = 5;
const MAX_SWEEP_RATE = 100;
/** Resources in flight at once in a scheduled sweep. */
const SWEEP_CONCURRENCY = 4;

/** `$ATREST_SWEEP_RATE`: API calls per second a scheduled sweep may make. Parsed once, at init. */
export function sweepRateFrom(env: Record<string, string | undefined>): number {
  const raw = env.ATREST_SWEEP_RATE;
  if (raw === undefined || raw.trim() === '') return DEFAULT_SWEEP_RATE;
  const rate = Number(raw);
  if (!(rate > 0 && rate <= MAX_SWEEP_RATE))
    throw new ConfigError([
      `ATREST_SWEEP_RATE: ${JSON.stringify(raw)} must be a number above 0, at most ${MAX_SWEEP_RATE} (calls per second)`,
    ]);
  return rate;
}

/** The one `sweep` log line after a scheduled sweep (its level: INFO when complete, else WARN). */
export interface SweepSummary {
  function: FunctionId;
  region: string;
  listed: number;
  complete: boolean;
  /** Resources per outcome. */
  counts: Partial<Record<Outcome['outcome'], number>>;
  /** Write calls made, all resources together. */
  writes: number;
  durationMs: number;
  /** This run started where the last one stopped, not from the top. */
  resumed: boolean;
  /** The next run resumes where this one stopped (a cursor was saved). */
  willResume: boolean;
}

function sweepSummary(functionId: FunctionId, result: SweepResult, durationMs: number): SweepSummary {
  const counts: Partial<Record<Outcome['outcome'], number>> = {};
  for (const o of result.outcomes) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1;
  return {
    function: functionId,
    region: result.region,
    listed: result.listed,
    complete: result.complete,
    counts,
    writes: result.outcomes.reduce((sum, o) => sum + o.attempts, 0),
    durationMs,
    resumed: result.resumedFrom !== undefined,
    willResume: result.stoppedAt !== undefined,
  };
}

export interface ScheduledSweepOptions {
  config: Config;
  store: IdempotencyStore;
  /** Calls per second (`sweepRateFrom`). */
  rate: number;
  /** Milliseconds left in this invocation; below SWEEP_RESERVE_MS no new resource is started. */
  remainingMs: () => number;
  /** Engine knobs (tests inject `sleep`, `random`). */
  engine?: Pick<EngineDeps, 'sleep' | 'random' | 'now' | 'verifyReads' | 'lockSeconds'>;
  /** The pacing's clock and the summary's duration. Default: real time. */
  clock?: Pick<TokenBucketOptions, 'now' | 'sleep'>;
  /** Called once per resource as soon as its outcome is known (the function's outcome log line). */
  onOutcome?: (outcome: Outcome) => void;
  /** Keeps where a run stopped, so the next resumes there. Default: none (each run from the top). */
  cursors?: SweepCursorStore;
}

/**
 * One region, paced at `rate`, within the invocation's time budget: what a deployed function runs
 * on its schedule. Never throws for a resource; the caller logs the summary at its level.
 */
export async function scheduledSweep<T extends Target, D, S>(
  remediator: Remediator<T, D, S>,
  region: string,
  options: ScheduledSweepOptions,
): Promise<{ result: SweepResult; summary: SweepSummary }> {
  const now = options.clock?.now ?? Date.now;
  const started = now();
  const result = await sweepRegion(remediator, region, {
    config: options.config,
    store: options.store,
    concurrency: SWEEP_CONCURRENCY,
    bucket: new TokenBucket(options.rate, options.clock ?? {}),
    outOfTime: () => options.remainingMs() < SWEEP_RESERVE_MS,
    engine: { ...options.engine, remainingMs: options.remainingMs },
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
    ...(options.cursors ? { cursors: options.cursors } : {}),
  });
  return { result, summary: sweepSummary(remediator.id, result, now() - started) };
}
