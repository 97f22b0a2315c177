/**
 * The Function Compute 3.0 entry adapter shared by the four Alibaba Cloud functions:
 * Buffer → JSON → (unwrap a re-queued event) → engine → one structured log line per outcome.
 *
 * Trail path: an SLS (log) trigger invocation (a cursor range on a trail logstore) is read with
 * PullLogs and each ActionTrail record the function owns goes through the same single-event path,
 * one by one (trail.ts, trail-invocation.ts, loaded only for such invocations).
 *
 * Not ready yet: a `deferred` outcome is re-queued with a delay, or ends `failed` past its
 * deadline — all of it in deferral.ts.
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
import { type AnySection, type Config, composeConfig } from '#core/config';
import { type EngineDeps, remediateEvent } from '#core/engine';
import { ConfigError } from '#core/errors';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { AnyRemediator } from '#core/manifest';
import { once } from '#core/once';
import { isSettled, type Outcome } from '#core/outcome';
import { type RateLimiter, ScopedRateLimiter, withRateLimit } from '#core/ratelimit';
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
  type FcContext,
} from './clients.ts';
import {
  DEFAULT_DEFER_DEADLINE_MS,
  type Deferral,
  type DeferralPlan,
  expire,
  planDeferral,
  requeue,
  unwrapDeferred,
} from './deferral.ts';
import { isSlsTriggerEvent } from './events.ts';
import { restoresFromEnv } from './restores.ts';
import { cursorStoreFromEnv } from './sweep-cursor.ts';
import { storeFromEnv } from './tablestore.ts';

export type { FcContext } from './clients.ts';
// Deferral lives in deferral.ts; these names were always offered here.
export {
  DEFAULT_DEFER_DEADLINE_MS,
  deferralDelaySeconds,
  planDeferral,
  unwrapDeferred,
  wrapDeferred,
} from './deferral.ts';

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
  /**
   * The function's own config section (its folder's config.ts; handler.ts passes it). The config
   * is composed from it and the shared parts; other functions' sections pass unread. Without it
   * (tests that bring their own `create`) every section passes unread.
   */
  config?: AnySection;
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

const memory = new MemoryIdempotencyStore();
const memoryRestores = new MemoryRestoreCounter();

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

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
  const config = composeConfig(options.config ? [options.config] : [], { scope: 'own' }).configFromEnv(env);
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
const TimerEvent = once(() =>
  z.looseObject({
    triggerTime: z.string().check(z.regex(ISO_TIME)),
    triggerName: z.string().check(z.minLength(1), z.maxLength(128)),
    payload: z.string().check(z.maxLength(4096)),
  }),
);

type Timer = z.infer<ReturnType<typeof TimerEvent>>;

/** The timer event when it asks for a sweep (its payload is exactly the sweep event), else undefined. */
export function sweepTimer(event: unknown): Timer | undefined {
  const parsed = TimerEvent().safeParse(event);
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
