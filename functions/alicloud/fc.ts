/**
 * The Function Compute 3.0 entry adapter shared by the four Alibaba Cloud functions:
 * Buffer → JSON → (unwrap a re-queued event) → engine → one structured log line per outcome.
 *
 * Trail path: an SLS (log) trigger invocation (a cursor range on a trail logstore) is read with
 * PullLogs and each ActionTrail record the function owns goes through the same single-event path,
 * one by one (trail.ts, trail-invocation.ts, loaded only for such invocations).
 *
 * Not ready yet: when an outcome is `deferred` (an ACK cluster still `initial`, a 409 inside the
 * five-minute window) the function re-invokes itself asynchronously with `x-fc-async-delay`
 * (FC 3.0 InvokeFunction, ACS3-signed), wrapping the original event with the attempt number and the
 * time it was first seen. Delays grow 60, 120, 240… s (capped at 900 s, jittered); past the
 * deadline the outcome becomes `failed` (`DeferralDeadlineExceeded`). Never sleeps for minutes.
 * The wrapper comes back in an event body, so it is not trusted: a `firstSeenAt` that is no real
 * date or lies in the future (`DeferralStateInvalid`), or more re-queues than the deadline allows
 * (`DeferralAttemptsExceeded`), ends the chain `failed` at once.
 *
 * Settled means settled: when any outcome is not settled — `failed`, `rejected`, a `duplicate` of
 * work another invocation still holds in progress (`settled: false`), a `deferred` whose re-queue
 * failed — the handler throws after logging, so FC's async retry and the on-failure destination
 * (dead letter) get the event with the outcomes in the error message. The idempotency lock lasts
 * the function's configured timeout (`context.function.timeout`), so a killed invocation's lock
 * has expired by the time FC retries.
 *
 * Accounts (#core/accounts, README "Organizations"): the own account is the context's
 * `accountId` (else `$FC_ACCOUNT_ID`). An event of another account ends `ignored` without
 * `alicloud.organization`; with it, the remediator of that account is built with the member
 * role's credentials (Alibaba Cloud STS AssumeRole with this function's own credentials, cached
 * per account for the life of the instance). Rate limits are per account and region.
 *
 * Scheduled sweep: an FC timer event (`{"triggerTime","triggerName","payload"}`) whose payload is
 * exactly `{"atrest":{"sweep":true}}` (infra/alicloud SWEEP_PAYLOAD) runs every resource the
 * remediator lists in this function's own region (FC context `region`, else `$FC_REGION`) through
 * the same engine and idempotency store, paced at `$ATREST_SWEEP_RATE` API calls per second
 * (default 5, so live events keep their quota), until the invocation has SWEEP_RESERVE_MS left.
 * ActionTrail delivery is best effort; this is the backstop. Each outcome is logged as for a live
 * event, then one `sweep` summary line. The sweep never throws for a resource (failed ones are
 * logged at ERROR) and never re-queues: it returns its outcomes, and the next run resumes from the
 * listing cursor this one left (Tablestore, beside the idempotency records). A remediator that
 * owns timer events itself (disk-default-kms checks its configured regions on every tick) gets
 * them as before, whatever their payload; so does any other timer payload.
 *
 * Batches: FC's EventBridge trigger in `event-streaming` mode delivers a JSON array of events;
 * each is processed on its own, and the invocation throws after all of them if any failed.
 */
import * as z from 'zod/mini';
import { CredentialCache, CredentialsUnavailableError, routeByAccount } from '#core/accounts';
import { type Config, configFromEnv } from '#core/config';
import { type EngineDeps, remediateEvent } from '#core/engine';
import { ConfigError } from '#core/errors';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import { isSettled, type Outcome } from '#core/outcome';
import { type RateLimiter, ScopedRateLimiter, withRateLimit } from '#core/ratelimit';
import type { Remediator } from '#core/remediator';
import { MemoryRestoreCounter, type RestoreCounter } from '#core/restores';
import { outcomeLevel, UnsettledOutcomeError, unsettledOutcomes } from '#core/settle';
import { isSweepEvent, scheduledSweep, sweepRateFrom } from '#core/sweep';
import { MemorySweepCursorStore, type SweepCursorStore } from '#core/sweep-cursor';
import { ALICLOUD_REGION } from '#core/validation';
import type { AlicloudSessionCredentials } from './accounts.ts';
import {
  type AlicloudCredentials,
  checkEndpointOverrides,
  credentialsFrom,
  type FcContextCredentials,
} from './clients.ts';
import { isSlsTriggerEvent } from './events.ts';
import { restoresFromEnv } from './restores.ts';
import { cursorStoreFromEnv } from './sweep-cursor.ts';
import { storeFromEnv } from './tablestore.ts';

/** The parts of the FC 3.0 Node.js context we use. */
export interface FcContext {
  requestId?: string;
  credentials?: FcContextCredentials;
  function?: { name?: string; timeout?: number; qualifier?: string };
  region?: string;
  accountId?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: each function brings its own Target/Desired/State types.
export type AnyRemediator = Remediator<any, any, any>;

/** What a remediator factory may want to know about the invocation (account for timer events). */
export interface FcInvocation {
  context: FcContext;
  env: Record<string, string | undefined>;
}

export interface FcHandlerOptions {
  /** Builds the remediator for this invocation's credentials (STS credentials rotate; clients are cheap). */
  create: (credentials: () => AlicloudCredentials, invocation: FcInvocation) => AnyRemediator;
  /** Idempotency store; default: Tablestore when configured (`storeFromEnv`), else per-instance memory. */
  store?: IdempotencyStore;
  /** Counts tamper restores; default: Tablestore when configured (`restoresFromEnv`), else per-instance memory. */
  restores?: RestoreCounter;
  env?: Record<string, string | undefined>;
  /** How long an event may keep being deferred, from when it was first seen. Default 120 minutes. */
  deferDeadlineMs?: (config: Config) => number;
  /** Paces this instance's reads and writes after a throttle. Default: one ScopedRateLimiter (per account and region) per handler. */
  limiter?: RateLimiter;
  /** STS AssumeRole for member accounts (config `alicloud.organization`). Default: AlicloudAccounts (STS in this region). */
  sts?: { assume(account: string, roleName: string): Promise<AlicloudSessionCredentials> };
  /** Engine knobs (tests inject `sleep: async () => {}`). */
  engine?: Pick<EngineDeps, 'sleep' | 'random' | 'now' | 'verifyReads'>;
  /**
   * Clock for deadlines and the wrapper's timestamp. Default Date.now. When given, a sweep also
   * paces on it and waits with `engine.sleep`, which must then advance it (a fake clock).
   */
  now?: () => number;
  /** Jitter source for re-queue delays. Default Math.random. */
  random?: () => number;
  /** Where log lines go (one JSON object per line). Default console.log. */
  log?: (line: string) => void;
  /** Where a scheduled sweep resumes. Default: Tablestore beside the idempotency store, else per-instance memory. */
  cursors?: SweepCursorStore;
}

/** Thrown after logging so FC's async retry and dead-letter destination see the failure (#core/settle). */
export class FcRemediationError extends UnsettledOutcomeError {
  constructor(message: string, outcomes: Outcome[], options?: ErrorOptions) {
    super(outcomes, message, options);
    this.name = 'FcRemediationError';
  }
}

export const DEFAULT_DEFER_DEADLINE_MS = 120 * 60_000;
/** FC's x-fc-async-delay bounds. */
const MAX_ASYNC_DELAY_S = 3600;
const FIRST_DELAY_S = 60;
const MAX_DELAY_S = 900;

const memory = new MemoryIdempotencyStore();
const memoryRestores = new MemoryRestoreCounter();

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The re-queued body: the original event and our bookkeeping, nothing else. */
const Requeued = z.strictObject({
  atrest: z.strictObject({
    deferred: z.strictObject({
      // Loose on purpose: planDeferral checks the values, so a corrupted wrapper ends `failed`
      // with DeferralStateInvalid instead of being mistaken for a cloud event.
      attempt: z.number().check(z.int(), z.minimum(1), z.maximum(Number.MAX_SAFE_INTEGER)),
      firstSeenAt: z.string().check(z.minLength(1), z.maxLength(64)),
    }),
  }),
  event: z.unknown(),
});

export interface Deferral {
  /** How many times the event has been re-queued so far. */
  attempt: number;
  firstSeenAt: string;
}

/** Splits a delivered body into the original event and, when it was re-queued by us, the deferral state. */
export function unwrapDeferred(body: unknown): { event: unknown; deferral?: Deferral } {
  if (typeof body !== 'object' || body === null || !('atrest' in body)) return { event: body };
  const parsed = Requeued.safeParse(body);
  if (!parsed.success) return { event: body };
  return { event: parsed.data.event, deferral: parsed.data.atrest.deferred };
}

/** The body of a re-queue. */
export function wrapDeferred(event: unknown, deferral: Deferral): Record<string, unknown> {
  return { atrest: { deferred: { attempt: deferral.attempt, firstSeenAt: deferral.firstSeenAt } }, event };
}

/**
 * Delay before re-queue number `attempt` (1 for the first): 60 · 2^(attempt-1) s capped at 900 s,
 * jittered down by up to 20 % so a burst of clusters created together does not come back together.
 */
export function deferralDelaySeconds(attempt: number, random: number): number {
  const ceiling = Math.min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** Math.min(Math.max(attempt - 1, 0), 10));
  return Math.max(1, Math.round(ceiling * (0.8 + 0.2 * random)));
}

export type DeferralPlan =
  | { kind: 'requeue'; deferral: Deferral; delaySeconds: number }
  | { kind: 'expired'; deferral: Deferral; waitedMs: number; code: DeferralEndCode; why: string };

/** Why a deferral chain ended `failed`. */
export type DeferralEndCode =
  | 'DeferralDeadlineExceeded'
  | 'DeferralAttemptsExceeded'
  | 'DeferralStateInvalid';

/** A `firstSeenAt` this far ahead of our clock is clock skew; further ahead it is not to be trusted. */
export const DEFERRAL_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The most re-queues an honest chain can need to reach `deadlineMs`: every delay is at least 80 %
 * of 60 s, so more attempts than the deadline divided by 48 s (plus the first) cannot come from
 * our own wrapper — a forged or corrupted count would otherwise keep the chain alive.
 */
export function maxDeferralAttempts(deadlineMs: number): number {
  return Math.ceil(deadlineMs / (FIRST_DELAY_S * 0.8 * 1000)) + 2;
}

/**
 * Pure: re-queue again (and when), or give up. The wrapper arrives in an event body, so its
 * numbers are checked before they are believed: a `firstSeenAt` that is not a real instant or lies
 * in the future, or more attempts than the deadline allows, ends the chain at once
 * (`DeferralStateInvalid` / `DeferralAttemptsExceeded`) instead of re-queueing for ever.
 */
export function planDeferral(
  previous: Deferral | undefined,
  deadlineMs: number,
  nowMs: number,
  random: number,
): DeferralPlan {
  const firstSeenAt = previous?.firstSeenAt ?? new Date(nowMs).toISOString();
  const firstMs = Date.parse(firstSeenAt);
  const attempt = (previous?.attempt ?? 0) + 1;
  const deferral = { attempt, firstSeenAt };
  if (!Number.isFinite(firstMs) || !realInstant(firstSeenAt, firstMs))
    return {
      kind: 'expired',
      deferral,
      waitedMs: 0,
      code: 'DeferralStateInvalid',
      why: `firstSeenAt ${JSON.stringify(firstSeenAt)} is not a real date`,
    };
  const waitedMs = nowMs - firstMs;
  if (waitedMs < -DEFERRAL_CLOCK_SKEW_MS)
    return {
      kind: 'expired',
      deferral,
      waitedMs: 0,
      code: 'DeferralStateInvalid',
      why: `firstSeenAt ${firstSeenAt} is in the future`,
    };
  const maxAttempts = maxDeferralAttempts(deadlineMs);
  if (previous !== undefined && attempt > maxAttempts)
    return {
      kind: 'expired',
      deferral,
      waitedMs,
      code: 'DeferralAttemptsExceeded',
      why: `${previous.attempt} re-queue(s), more than the ${maxAttempts - 1} the deadline allows`,
    };
  if (previous !== undefined && waitedMs >= deadlineMs)
    return {
      kind: 'expired',
      deferral,
      waitedMs,
      code: 'DeferralDeadlineExceeded',
      why: `still not ready after ${Math.round(waitedMs / 60_000)} min and ${previous.attempt} re-queue(s)`,
    };
  // Never sleep past the deadline: the last check happens right at it.
  const leftS = Math.ceil((deadlineMs - Math.max(waitedMs, 0)) / 1000);
  const delaySeconds = Math.min(deferralDelaySeconds(attempt, random), Math.max(1, leftS), MAX_ASYNC_DELAY_S);
  return { kind: 'requeue', deferral, delaySeconds };
}

/** `Date.parse` rolls 2026-02-31 over to March; a real instant prints back to the same calendar day. */
function realInstant(text: string, ms: number): boolean {
  const day = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (day === null) return false;
  const [, date, hh, mm, ss] = day;
  if (Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 59) return false;
  // The calendar date must exist (compare in UTC at noon so an offset cannot move it a day).
  const noon = Date.parse(`${date}T12:00:00Z`);
  return Number.isFinite(noon) && new Date(noon).toISOString().slice(0, 10) === date && Number.isFinite(ms);
}

/** What a function's remediator factory gets from the adapter. */
export interface FcRemediatorDeps {
  credentials: () => AlicloudCredentials;
  env: Record<string, string | undefined>;
  /** The account acted in: the FC context's, else `$FC_ACCOUNT_ID` (a timer event names none). */
  account?: string;
}

/**
 * Everything a function's `handler.ts` exports: `handlerOptions` (tests and the demo add `env`,
 * `engine` and friends on top) and `handler`, the FC entry. The handler is built on first use so
 * a bad ATREST_CONFIG_JSON fails that invocation with the field named, instead of failing the
 * module import.
 */
export function fcFunction(
  createRemediator: (deps: FcRemediatorDeps) => AnyRemediator,
  defaults: Omit<Partial<FcHandlerOptions>, 'create'> = {},
) {
  const handlerOptions = (overrides: Partial<FcHandlerOptions> = {}): FcHandlerOptions => ({
    create: (credentials, { context, env }) => {
      const account = context.accountId ?? env.FC_ACCOUNT_ID;
      return createRemediator({ credentials, env, ...(account ? { account } : {}) });
    },
    ...defaults,
    ...overrides,
  });
  let instance: ReturnType<typeof createFcHandler> | undefined;
  const handler = (event: Buffer | string | object, context?: FcContext): Promise<Outcome[]> => {
    instance ??= createFcHandler(handlerOptions());
    return instance(event, context);
  };
  return { handler, handlerOptions };
}

export function createFcHandler(options: FcHandlerOptions) {
  const env = options.env ?? process.env;
  // Parsed once per instance: a bad config fails the first invocation with the field named.
  const config = configFromEnv(env);
  // Likewise a bad ALIBABA_CLOUD_ENDPOINT_* variable: the instance fails at init, naming it.
  checkEndpointOverrides(env);
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const log = options.log ?? ((line: string) => console.log(line));
  const deadlineMs = options.deferDeadlineMs?.(config) ?? DEFAULT_DEFER_DEADLINE_MS;
  // One per instance, kept across invocations: a burst of creations is paced, not retried into
  // failure, per account and region as the quotas are.
  const limiter = options.limiter ?? new ScopedRateLimiter();
  // Member accounts (#core/accounts): credentials per account for the life of the instance, asked
  // of STS with this function's own (rotating) credentials from the latest invocation's context.
  let latest: FcContext = {};
  const roleName = config.alicloud?.organization?.memberRoleName ?? '';
  const sts =
    options.sts ??
    ({
      assume: async (account: string, role: string) => {
        // Loaded on first use: a single-account deployment never loads @alicloud/openapi-client for it.
        const { AlicloudAccounts } = await import('./accounts.ts');
        return new AlicloudAccounts({
          credentials: () => credentialsFrom(latest, env),
          env,
          region: () => latest.region ?? env.FC_REGION ?? '',
        }).assume(account, role);
      },
    } satisfies FcHandlerOptions['sts']);
  const cache = new CredentialCache<AlicloudSessionCredentials>((account) => sts.assume(account, roleName), {
    now,
  });
  const members = new Map<string, AnyRemediator>();
  // Also parsed once: a bad value fails the first invocation with the variable named.
  const sweepRate = sweepRateFrom(env);
  // Without Tablestore: per instance (a warm instance still resumes its own last sweep).
  const memoryCursors = new MemorySweepCursorStore();

  // The own account's remediator (its clients, their connections and per-region caches) and the
  // stores, built once per credentials identity rather than per invocation. FC hands STS
  // credentials in each invocation's context and rotates them: a new identity (another account,
  // rotated keys) builds afresh, so nothing keeps signing with keys FC no longer gives.
  let built: { identity: string; parts: ReturnType<typeof build> } | undefined;
  const build = (context: FcContext) => {
    const credentials = () => credentialsFrom(context, env);
    const routed = routeByAccount(
      options.create(credentials, { context, env }),
      {
        cloud: 'alicloud',
        ownAccount: () => context.accountId ?? env.FC_ACCOUNT_ID,
        member: async (account) => {
          await cache.get(account);
          let member = members.get(account);
          if (member === undefined) {
            const memberCredentials = () => {
              const current = cache.current(account);
              if (current === undefined) throw new CredentialsUnavailableError(account);
              return current;
            };
            const { credentials: _own, ...rest } = context;
            member = options.create(memberCredentials, { context: { ...rest, accountId: account }, env });
            members.set(account, member);
          }
          return member;
        },
      },
      config,
    );
    return {
      credentials,
      remediator: withRateLimit(routed, limiter),
      sweeper: withRateLimit(routed, limiter, { background: true }),
      store: options.store ?? storeFromEnv(env, credentials) ?? memory,
      restores: options.restores ?? restoresFromEnv(env, credentials) ?? memoryRestores,
      cursors: options.cursors ?? cursorStoreFromEnv(env, credentials) ?? memoryCursors,
    };
  };

  return async (event: Buffer | string | object, context: FcContext = {}): Promise<Outcome[]> => {
    const started = now();
    const timeoutSeconds = context.function?.timeout ?? 60;
    const timeoutMs = timeoutSeconds * 1000;
    latest = context;
    const identity = identityOf(context, env);
    if (built?.identity !== identity) built = { identity, parts: build(context) };
    const { credentials, remediator, sweeper, store, restores, cursors } = built.parts;
    const decoded = decode(event);
    const timer = sweepTimer(decoded);
    if (timer !== undefined && !remediator.owns(decoded)) {
      const remainingMs = () => timeoutMs - (now() - started);
      return sweep({
        remediator: sweeper,
        timer,
        context,
        env,
        config,
        store,
        remainingMs,
        now,
        log,
        options,
        rate: sweepRate,
        lockSeconds: timeoutSeconds,
        cursors,
      });
    }
    const remainingMs = () => timeoutMs - (now() - started);

    /** Re-queues a deferred event (FC async invocation with a delay) and logs how it went. */
    const requeueLogged = async (
      original: unknown,
      plan: Extract<DeferralPlan, { kind: 'requeue' }>,
    ): Promise<unknown> => {
      try {
        await requeue(original, plan, context, env, credentials);
        log(
          line('INFO', 'requeued', {
            function: remediator.id,
            attempt: plan.deferral.attempt,
            delaySeconds: plan.delaySeconds,
            firstSeenAt: plan.deferral.firstSeenAt,
            requestId: context.requestId,
          }),
        );
        return undefined;
      } catch (error) {
        const { errorFacts } = await import('./openapi.ts');
        const facts = errorFacts(error);
        log(
          line('ERROR', 'requeue failed', {
            function: remediator.id,
            requestId: context.requestId,
            error: { code: facts.code ?? (error as Error).name ?? 'Error', message: facts.message },
          }),
        );
        return error;
      }
    };

    /**
     * One event through the engine, then its deferral: expiry, or a re-queue — at once, or, with
     * `hold`, left to the caller as `held` (a batch re-queues only when none of its events failed).
     */
    const processOne = async (
      original: unknown,
      deferral: Deferral | undefined,
      hold = false,
    ): Promise<{
      outcomes: Outcome[];
      requeueFailure?: unknown;
      held?: Extract<DeferralPlan, { kind: 'requeue' }>;
    }> => {
      let outcomes = await remediateEvent(remediator, original, {
        config,
        store,
        restores,
        remainingMs,
        lockSeconds: timeoutSeconds,
        ...options.engine,
      });
      let requeueFailure: unknown;
      // Anything unsettled besides the deferral (a failure, a duplicate still in progress) throws below.
      const anyFailed = outcomes.some((o) => !isSettled(o) && o.outcome !== 'deferred');
      if (outcomes.some((o) => o.outcome === 'deferred')) {
        const plan = planDeferral(deferral, deadlineMs, now(), random());
        if (plan.kind === 'expired') {
          outcomes = outcomes.map((o) => (o.outcome === 'deferred' ? expire(o, plan) : o));
        } else if (!anyFailed) {
          // With a failure in the same event we throw instead: FC's retry re-delivers the whole event,
          // and a re-queue on top would start a second chain for the same work.
          if (hold) return { outcomes, held: plan };
          requeueFailure = await requeueLogged(original, plan);
        }
      }
      return { outcomes, ...(requeueFailure !== undefined ? { requeueFailure } : {}) };
    };

    let outcomes: Outcome[];
    let requeueFailure: unknown;
    if (isSlsTriggerEvent(decoded)) {
      // The trail path: read the logstore range and run each record this function owns, one by
      // one, as if delivered alone (a deferred record is re-queued alone). Loaded on first use.
      const { runTrailInvocation } = await import('./trail-invocation.ts');
      const result = await runTrailInvocation({
        event: decoded,
        remediator,
        context,
        env,
        credentials,
        remainingMs,
        log: (level, message, fields) =>
          log(line(level, message, { ...fields, requestId: context.requestId })),
        processOne: (record) => processOne(record, undefined),
      });
      outcomes = result.outcomes;
      requeueFailure = result.requeueFailure;
    } else if (Array.isArray(decoded) && decoded.length > 0) {
      // A batch (FC's EventBridge trigger in event-streaming mode delivers a JSON array): each
      // event on its own, one outcome line each. Deferred ones are re-queued only when no event of
      // the delivery is left unsettled — else FC's retry brings the whole batch back, and a
      // re-queue on top would start a second chain for the same work.
      const done = [];
      for (const each of decoded) {
        const { event: original, deferral } = unwrapDeferred(each);
        done.push({ original, ...(await processOne(original, deferral, true)) });
      }
      outcomes = done.flatMap((d) => d.outcomes);
      const unsettled = outcomes.some((o) => !isSettled(o) && o.outcome !== 'deferred');
      // Held back because another event is unsettled: the invocation throws below and FC's
      // retry brings the deferred events back with the rest.
      for (const { original, held } of done)
        if (held && !unsettled) requeueFailure ??= await requeueLogged(original, held);
    } else {
      const { event: original, deferral } = unwrapDeferred(decoded);
      ({ outcomes, requeueFailure } = await processOne(original, deferral));
    }

    for (const outcome of outcomes)
      log(line(outcomeLevel(outcome), 'outcome', { ...outcome, requestId: context.requestId }));

    // A deferral that was re-queued is settled for this delivery: the re-queued one carries it on.
    // (processOne re-queues only an event with no other unsettled outcome, and that one throws here.)
    const requeued = requeueFailure === undefined;
    const failed = unsettledOutcomes(outcomes, (o) => o.outcome === 'deferred' && requeued);
    if (failed.length > 0 || requeueFailure !== undefined) {
      const what =
        failed.length > 0
          ? `${failed.length} of ${outcomes.length} outcome(s) not settled`
          : 'the deferred event could not be re-queued';
      throw new FcRemediationError(
        `atrest ${remediator.id}: ${what}: ${JSON.stringify(failed.length > 0 ? failed : outcomes)}`,
        outcomes,
        requeueFailure !== undefined ? { cause: requeueFailure } : undefined,
      );
    }
    return outcomes;
  };
}

/**
 * Who the invocation acts as: the account and the credentials FC handed (else the environment's).
 * Kept in memory only, to notice a change; never logged.
 */
function identityOf(context: FcContext, env: Record<string, string | undefined>): string {
  const c = context.credentials;
  const key = c?.accessKeyId && c.accessKeySecret ? c : undefined;
  return JSON.stringify([
    context.accountId ?? env.FC_ACCOUNT_ID ?? '',
    key?.accessKeyId ?? env.ALIBABA_CLOUD_ACCESS_KEY_ID ?? '',
    key?.securityToken ?? (key ? '' : (env.ALIBABA_CLOUD_SECURITY_TOKEN ?? '')),
  ]);
}

/** The FC timer trigger's event. */
const TimerEvent = z.looseObject({
  triggerTime: z.string().check(z.regex(ISO_TIME)),
  triggerName: z.string().check(z.minLength(1), z.maxLength(128)),
  payload: z.string().check(z.maxLength(4096)),
});

type Timer = z.infer<typeof TimerEvent>;

/** The timer event when it asks for a sweep (its payload is exactly the sweep event), else undefined. */
export function sweepTimer(event: unknown): Timer | undefined {
  const parsed = TimerEvent.safeParse(event);
  if (!parsed.success) return undefined;
  try {
    return isSweepEvent(JSON.parse(parsed.data.payload)) ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

interface SweepRun {
  remediator: AnyRemediator;
  timer: Timer;
  context: FcContext;
  env: Record<string, string | undefined>;
  config: Config;
  store: IdempotencyStore;
  remainingMs: () => number;
  now: () => number;
  log: (line: string) => void;
  options: FcHandlerOptions;
  rate: number;
  lockSeconds: number;
  cursors: SweepCursorStore;
}

/** The scheduled sweep of this function's region; see the header. */
async function sweep(run: SweepRun): Promise<Outcome[]> {
  const { remediator, context, log } = run;
  const region = context.region ?? run.env.FC_REGION;
  if (region === undefined || !ALICLOUD_REGION.test(region))
    throw new ConfigError([
      `FC_REGION: ${JSON.stringify(region)} is not a region (the FC context or FC_REGION names it)`,
    ]);
  if (remediator.list === undefined) {
    const ignored: Outcome = {
      function: remediator.id,
      eventId: `timer:${run.timer.triggerName}@${run.timer.triggerTime}`,
      resource: '',
      region,
      outcome: 'ignored',
      attempts: 0,
      durationMs: 0,
      dryRun: false,
      reason: `${remediator.id} cannot list its resources, so it cannot sweep`,
    };
    log(line('INFO', 'outcome', { ...ignored, requestId: context.requestId }));
    return [ignored];
  }
  const { result, summary } = await scheduledSweep(remediator, region, {
    config: run.config,
    store: run.store,
    rate: run.rate,
    remainingMs: run.remainingMs,
    engine: { ...run.options.engine, lockSeconds: run.lockSeconds },
    // Real time unless the test drives a fake clock (engine.sleep alone must not make pacing spin).
    ...(run.options.now
      ? { clock: { now: run.now, ...(run.options.engine?.sleep ? { sleep: run.options.engine.sleep } : {}) } }
      : {}),
    cursors: run.cursors,
    onOutcome: (outcome) =>
      log(line(outcomeLevel(outcome), 'outcome', { ...outcome, requestId: context.requestId })),
  });
  // Incomplete (time budget or a listing failure) is a warning: the next run resumes where this
  // one stopped, and a failed listing has already been logged at ERROR as a failed outcome.
  log(line(summary.complete ? 'INFO' : 'WARN', 'sweep', { ...summary, requestId: context.requestId }));
  return result.outcomes;
}

function expire(outcome: Outcome, plan: Extract<DeferralPlan, { kind: 'expired' }>): Outcome {
  const { reason, ...rest } = outcome;
  return {
    ...rest,
    outcome: 'failed',
    error: { code: plan.code, message: `${plan.why}: ${reason ?? 'deferred'}` },
  };
}

/** Re-invokes this same function asynchronously with a delay (FC 3.0 InvokeFunction). */
async function requeue(
  original: unknown,
  plan: Extract<DeferralPlan, { kind: 'requeue' }>,
  context: FcContext,
  env: Record<string, string | undefined>,
  credentials: () => AlicloudCredentials,
): Promise<void> {
  const name = context.function?.name ?? env.FC_FUNCTION_NAME;
  const region = context.region ?? env.FC_REGION;
  const account = context.accountId ?? env.FC_ACCOUNT_ID;
  if (!name || !region)
    throw new Error(
      'cannot re-queue: the function name and region are unknown (FC context or FC_FUNCTION_NAME/FC_REGION)',
    );
  // Loaded on first use: only a deferral needs it, and @alicloud/openapi-client is ~20 ms of
  // import for the functions that otherwise call no OpenAPI (SLS, OSS Tables).
  const { AlicloudApi } = await import('./openapi.ts');
  const api = new AlicloudApi({ credentials, env, ...(account ? { account } : {}) });
  const qualifier = context.function?.qualifier;
  await api.roa('FC', region, {
    action: 'InvokeFunction',
    method: 'POST',
    pathname: `/2023-03-30/functions/${encodeURIComponent(name)}/invocations`,
    ...(qualifier && qualifier !== 'LATEST' ? { query: { qualifier } } : {}),
    headers: { 'x-fc-invocation-type': 'Async', 'x-fc-async-delay': String(plan.delaySeconds) },
    raw: Buffer.from(JSON.stringify(wrapDeferred(original, plan.deferral)), 'utf8'),
    bodyType: 'none',
  });
}

function line(level: string, message: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ level, message, ...fields });
}

/** FC hands the event as a Buffer; a test or the CLI may pass a string or an object. */
function decode(event: Buffer | string | object): unknown {
  const text = Buffer.isBuffer(event)
    ? event.toString('utf8')
    : typeof event === 'string'
      ? event
      : undefined;
  if (text === undefined) return event;
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    // Not JSON: let the remediator's parser reject it with its own reason.
    return { unparseable: text.slice(0, 200) };
  }
}
