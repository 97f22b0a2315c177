/**
 * The remediation engine: parse → desire → read → apply (with retry) → verify → Outcome. Every
 * function runs through here; each supplies only a Remediator. No cloud SDK, no platform: the
 * handlers (Lambda, Function Compute, CLI) pass in the store, the clock and the time budget.
 */
import type { Config } from './config.ts';
import {
  ConflictError,
  GoneError,
  type IdempotencyStoreError,
  NotReadyError,
  type RemediationError,
  storeError,
  UnexpectedError,
} from './errors.ts';
import { type IdempotencyStore, idempotencyKey } from './idempotency.ts';
import type { Outcome, OutcomeError, OutcomeKind } from './outcome.ts';
import type { Remediator, Target, Verdict } from './remediator.ts';
import { MemoryRestoreCounter, type RestoreCounter, restoreKey } from './restores.ts';
import { backoffDelay, DEFAULT_RETRY, mayRetry, type RetryPolicy } from './retry.ts';

export interface EngineDeps {
  config: Config;
  store: IdempotencyStore;
  /** Read and decide, write nothing (no cloud write, no idempotency record). */
  dryRun?: boolean;
  /** Bypass the idempotency record. */
  force?: boolean;
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis, FC's timeout). Default: unbounded. */
  remainingMs?: () => number;
  /**
   * How long one invocation can run, in seconds: the life of the in-progress lock when its holder
   * is killed before it can release it. Lambda: the remaining time at the invocation's start (its
   * configured timeout); Function Compute: `context.function.timeout`. Default 900 (the CLI, whose
   * file store also frees a dead process's lock at once).
   */
  lockSeconds?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** How many extra reads verify may take while the read-back still shows the old state. Default 3. */
  verifyReads?: number;
  /** Counts tamper restores per resource and hour. Default: one per-process memory counter. */
  restores?: RestoreCounter;
}

/** Used when the caller passes no counter: the cap then holds per process (a warm instance, one CLI run). */
const processRestores = new MemoryRestoreCounter();

interface Run {
  deps: Required<Pick<EngineDeps, 'sleep' | 'random' | 'now' | 'remainingMs'>> & EngineDeps;
  policy: RetryPolicy;
  attempts: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Result = { outcome: OutcomeKind; reason?: string; error?: OutcomeError; settled?: boolean };

/** Outcomes whose work is done and remembered: later deliveries observed before the run began are `duplicate`. */
const KEPT: readonly OutcomeKind[] = ['applied', 'compliant', 'gone', 'excluded'];
const DEFAULT_LOCK_SECONDS = 15 * 60;

/** Runs one delivered event through its function; one Outcome per target it names (usually one). */
export async function remediateEvent<T extends Target, D, S>(
  remediator: Remediator<T, D, S>,
  event: unknown,
  deps: EngineDeps,
): Promise<Outcome[]> {
  const started = (deps.now ?? Date.now)();
  let parsed: ReturnType<Remediator<T, D, S>['parse']>;
  try {
    parsed = remediator.parse(event, deps.config);
  } catch (error) {
    // A parser must not throw; if one does, the event is still answered, never dropped.
    parsed = { kind: 'rejected', code: 'InvalidEvent', reason: `parser failed: ${(error as Error).message}` };
  }
  if (parsed.kind !== 'targets') {
    const base = {
      function: remediator.id,
      eventId: parsed.eventId ?? '',
      resource: parsed.resource ?? '',
      region: parsed.region ?? '',
      ...(parsed.account !== undefined ? { account: parsed.account } : {}),
      attempts: 0,
      durationMs: (deps.now ?? Date.now)() - started,
      dryRun: deps.dryRun ?? false,
    };
    return parsed.kind === 'ignored'
      ? [{ ...base, outcome: 'ignored', reason: parsed.reason }]
      : [{ ...base, outcome: 'rejected', error: { code: parsed.code, message: parsed.reason } }];
  }
  const outcomes: Outcome[] = [];
  for (const target of parsed.targets) outcomes.push(await remediateTarget(remediator, target, deps));
  return outcomes;
}

/** Remediates one target (from an event, or from `sweep`'s listing). Never throws. */
export async function remediateTarget<T extends Target, D, S>(
  remediator: Remediator<T, D, S>,
  target: T,
  deps: EngineDeps,
): Promise<Outcome> {
  const run: Run = {
    deps: {
      ...deps,
      sleep: deps.sleep ?? defaultSleep,
      random: deps.random ?? Math.random,
      now: deps.now ?? Date.now,
      remainingMs: deps.remainingMs ?? (() => Number.POSITIVE_INFINITY),
    },
    policy: { ...DEFAULT_RETRY, ...deps.config.retry },
    attempts: 0,
  };
  const started = run.deps.now();
  // Whose account (#core/accounts): a target this function must not touch ends here, untouched.
  const admission = await admit(remediator, target, deps.config);
  const result = admission ?? (await decide(remediator, target, run));
  return {
    function: remediator.id,
    eventId: target.eventId,
    resource: target.resource,
    region: target.region,
    account: target.account,
    outcome: result.outcome,
    attempts: run.attempts,
    durationMs: run.deps.now() - started,
    dryRun: deps.dryRun ?? false,
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
    ...(result.error !== undefined ? { error: result.error } : {}),
    ...(result.settled !== undefined ? { settled: result.settled } : {}),
  };
}

/** The remediator's admission check; a check that throws (own account unknowable) is `failed`, never a crash. */
async function admit<T extends Target, D, S>(
  r: Remediator<T, D, S>,
  target: T,
  config: Config,
): Promise<Result | undefined> {
  try {
    return await r.admit?.(target, config);
  } catch (thrown) {
    return { outcome: 'failed', error: toOutcomeError(r.classify(thrown)) };
  }
}

async function decide<T extends Target, D, S>(r: Remediator<T, D, S>, target: T, run: Run): Promise<Result> {
  const { config, store, dryRun, force } = run.deps;
  const desire = r.desire(target, config);
  if (desire.kind === 'off') return { outcome: 'ignored', reason: `${r.id} is not configured` };
  if (desire.kind === 'excluded') return { outcome: 'excluded', reason: desire.reason };
  if (dryRun || force) return converge(r, target, desire.desired, run);

  const key = idempotencyKey({
    functionId: r.id,
    account: target.account,
    region: target.region,
    resource: target.resource,
    desired: desire.key,
  });
  const ttlSeconds = config.idempotency?.ttlSeconds ?? 3600;
  const lockSeconds = run.deps.lockSeconds ?? DEFAULT_LOCK_SECONDS;
  // Unknown or unreadable: observed now, so a completed record never swallows it (one read at most).
  const stated = target.observedAt !== undefined ? Date.parse(target.observedAt) : Number.NaN;
  const observedAt = Number.isFinite(stated) ? stated : run.deps.now();
  let ran: Awaited<ReturnType<IdempotencyStore['run']>>;
  try {
    ran = await store.run(key, { ttlSeconds, lockSeconds, observedAt }, async () => {
      const result = await converge(r, target, desire.desired, run);
      // Only settled work is remembered; a failure or deferral must let the next delivery try again.
      return { value: result, keep: KEPT.includes(result.outcome) };
    });
  } catch (error) {
    // Claiming failed (table missing, throttled, denied, a lost answer): nothing was done; the
    // delivery is not settled and the platform retries it.
    return { outcome: 'failed', error: toOutcomeError(storeError('claim', error)) };
  }
  if (ran.kind === 'duplicate')
    return {
      outcome: 'duplicate',
      reason: `idempotency record ${ran.state}`,
      settled: ran.state === 'completed',
    };
  const result = ran.value as Result;
  return ran.storeError ? afterStoreFailure(result, ran.storeError, lockSeconds) : result;
}

/**
 * The work ran but its record could not be written. Settled work stays what it is — the resource
 * is encrypted — with a warning; unsettled work becomes (or stays) `failed` and names the store's
 * error, because the key is still locked: a retry within the lock's life finds it in progress.
 */
function afterStoreFailure(result: Result, error: IdempotencyStoreError, lockSeconds: number): Result {
  const what = `${error.code}${error.requestId ? `, request id ${error.requestId}` : ''}`;
  if (KEPT.includes(result.outcome))
    return {
      ...result,
      reason: `${result.reason ? `${result.reason}; ` : ''}warning: done, but the idempotency record could not be completed (${what}); later deliveries check the resource again (in the next ${lockSeconds} s they may find it in progress)`,
    };
  const lock = `the idempotency lock could not be released (${what}): a retry in the next ${lockSeconds} s finds it in progress`;
  if (result.outcome === 'failed' && result.error)
    return { outcome: 'failed', error: { ...result.error, message: `${result.error.message}; and ${lock}` } };
  return {
    outcome: 'failed',
    error: {
      ...toOutcomeError(error),
      message: `${error.message}; the work ended ${result.outcome}${result.reason ? ` (${result.reason})` : ''}, and ${lock}`,
    },
  };
}

/** Read, decide, write with retry, verify. Never throws. */
async function converge<T extends Target, D, S>(
  r: Remediator<T, D, S>,
  target: T,
  desired: D,
  run: Run,
): Promise<Result> {
  let observed = await call(r, run, () => r.read(target));
  if ('failure' in observed) return observed.failure;
  let verdict = judge(r, observed.value, target, desired);
  if (verdict.done) return verdict.done;
  if (run.deps.dryRun) return { outcome: 'applied', reason: 'dry run: would write' };
  if (target.tamper) {
    const refused = await countRestore(r, target, run);
    if (refused) return refused;
  }

  // Write, retrying conflicts (after a fresh read: someone else may have done it) and throttling.
  for (;;) {
    run.attempts += 1;
    const state = verdict.state;
    try {
      await r.apply(target, desired, state);
      break;
    } catch (thrown) {
      const error = r.classify(thrown);
      const terminal = terminalResult(error);
      if (terminal) return terminal;
      const delay = backoffDelay(run.attempts - 1, run.policy, run.deps.random());
      if (!mayRetry(run.attempts, delay, run.deps.remainingMs(), run.policy)) return exhausted(error, run);
      await run.deps.sleep(delay);
      if (error instanceof ConflictError) {
        observed = await call(r, run, () => r.read(target));
        if ('failure' in observed) return observed.failure;
        verdict = judge(r, observed.value, target, desired);
        if (verdict.done) return verdict.done;
      }
    }
  }

  // Verify by reading back; tolerate a read-back that lags a few times (eventual consistency).
  const extraReads = run.deps.verifyReads ?? 3;
  for (let read = 0; ; read++) {
    const after = await call(r, run, () => r.read(target));
    if ('failure' in after) return after.failure;
    if (after.value.kind === 'gone') return { outcome: 'gone' };
    if (after.value.kind === 'found' && r.evaluate(after.value.state, desired, target).kind === 'compliant')
      return { outcome: 'applied' };
    if (read >= extraReads) break;
    await run.deps.sleep(backoffDelay(read, run.policy, run.deps.random()));
  }
  return { outcome: 'deferred', reason: 'written, but the read-back does not show it yet; will re-check' };
}

/**
 * A tamper restore is about to write: count it against the resource's hourly cap first. Past the
 * cap nothing is written and the event fails with `EnforcementLoop` (it alarms like any failure).
 */
async function countRestore<T extends Target, D, S>(
  r: Remediator<T, D, S>,
  target: T,
  run: Run,
): Promise<Result | undefined> {
  const tamper = target.tamper;
  if (!tamper) return undefined;
  const counter = run.deps.restores ?? processRestores;
  const key = restoreKey({
    functionId: r.id,
    account: target.account,
    region: target.region,
    resource: target.resource,
  });
  try {
    const taken = await counter.take(key, tamper.callId, tamper.maxRestoresPerHour, run.deps.now());
    if (taken.allowed) return undefined;
    return {
      outcome: 'failed',
      error: {
        code: 'EnforcementLoop',
        message: `${tamper.event}: already restored after ${taken.count} other tamper(s) this hour (maxRestoresPerHour ${tamper.maxRestoresPerHour}); something keeps removing the encryption, so atrest stops writing until the next hour`,
      },
    };
  } catch (error) {
    const e = error as { code?: unknown; name?: string };
    const code = typeof e.code === 'string' ? e.code : (e.name ?? 'RestoreCounterError');
    return { outcome: 'failed', error: { code, message: `restore counter: ${(error as Error).message}` } };
  }
}

type Judged<S> = { done: Result; state?: never } | { done?: never; state: S };

function judge<T extends Target, D, S>(
  r: Remediator<T, D, S>,
  observed: Awaited<ReturnType<Remediator<T, D, S>['read']>>,
  target: T,
  desired: D,
): Judged<S> {
  if (observed.kind === 'gone') return { done: { outcome: 'gone' } };
  if (observed.kind === 'notReady') return { done: { outcome: 'deferred', reason: observed.reason } };
  const verdict: Verdict = r.evaluate(observed.state, desired, target);
  switch (verdict.kind) {
    case 'compliant':
      return { done: { outcome: 'compliant' } };
    case 'excluded':
      return { done: { outcome: 'excluded', reason: verdict.reason } };
    case 'blocked':
      return { done: { outcome: 'failed', error: { code: verdict.code, message: verdict.message } } };
    case 'write':
      return { state: observed.state };
  }
}

/** One API call (a read) with throttling/transient retry. Writes are retried by `converge`. */
async function call<T extends Target, D, S, V>(
  r: Remediator<T, D, S>,
  run: Run,
  fn: () => Promise<V>,
): Promise<{ value: V } | { failure: Result }> {
  for (let tries = 1; ; tries++) {
    try {
      return { value: await fn() };
    } catch (thrown) {
      const error = r.classify(thrown);
      const terminal = terminalResult(error);
      if (terminal) return { failure: terminal };
      const delay = backoffDelay(tries - 1, run.policy, run.deps.random());
      if (!mayRetry(tries, delay, run.deps.remainingMs(), run.policy))
        return { failure: exhausted(error, run) };
      await run.deps.sleep(delay);
    }
  }
}

function terminalResult(error: RemediationError): Result | undefined {
  if (error instanceof GoneError) return { outcome: 'gone' };
  if (error instanceof NotReadyError)
    return { outcome: 'deferred', reason: `${error.code}: ${error.message}` };
  if (!error.retryable) return { outcome: 'failed', error: toOutcomeError(error) };
  return undefined;
}

function exhausted(error: RemediationError, run: Run): Result {
  const e = toOutcomeError(error);
  return {
    outcome: 'failed',
    error: { ...e, message: `${e.message} (retries exhausted after ${run.attempts || 'read'} attempts)` },
  };
}

export function toOutcomeError(error: RemediationError): OutcomeError {
  return {
    code: error.code,
    message: error.message,
    ...(error.requestId !== undefined ? { requestId: error.requestId } : {}),
  };
}

/** For remediators' classify(): anything unknown becomes UnexpectedError with its name as code. */
export function unexpected(error: unknown): UnexpectedError {
  const e = error as { name?: string; message?: string };
  return new UnexpectedError(
    e?.message ?? String(error),
    { code: e?.name ?? 'UnexpectedError' },
    { cause: error },
  );
}
