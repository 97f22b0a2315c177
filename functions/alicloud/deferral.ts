/**
 * Deferral, in one place: when an outcome is `deferred` (an ACK cluster still `initial`, a 409
 * inside the five-minute window) the Function Compute adapter re-invokes its function
 * asynchronously with `x-fc-async-delay` (FC 3.0 InvokeFunction, ACS3-signed), wrapping the
 * original event with the attempt number and the time it was first seen. Delays grow 60, 120,
 * 240… s (capped at 900 s, jittered); past the deadline the outcome becomes `failed`
 * (`DeferralDeadlineExceeded`). The wrapper comes back in an event body, so it is not trusted: a
 * `firstSeenAt` that is no real date or lies in the future (`DeferralStateInvalid`), or more
 * re-queues than the deadline allows (`DeferralAttemptsExceeded`), ends the chain `failed` at once.
 * Lambda has no such path: a deferred outcome is unsettled there and Lambda's own retry runs it
 * again (#core/settle).
 */
import * as z from 'zod/mini';
import { once } from '#core/once';
import type { Outcome } from '#core/outcome';
import type { AlicloudCredentials, FcContext } from './clients.ts';

export const DEFAULT_DEFER_DEADLINE_MS = 120 * 60_000;
/** FC's x-fc-async-delay bounds. */
const MAX_ASYNC_DELAY_S = 3600;
const FIRST_DELAY_S = 60;
const MAX_DELAY_S = 900;

/** The re-queued body: the original event and our bookkeeping, nothing else. */
const Requeued = once(() =>
  z.strictObject({
    atrest: z.strictObject({
      deferred: z.strictObject({
        // Loose on purpose: planDeferral checks the values, so a corrupted wrapper ends `failed`
        // with DeferralStateInvalid instead of being mistaken for a cloud event.
        attempt: z.number().check(z.int(), z.minimum(1), z.maximum(Number.MAX_SAFE_INTEGER)),
        firstSeenAt: z.string().check(z.minLength(1), z.maxLength(64)),
      }),
    }),
    event: z.unknown(),
  }),
);

export interface Deferral {
  /** How many times the event has been re-queued so far. */
  attempt: number;
  firstSeenAt: string;
}

/** Splits a delivered body into the original event and, when it was re-queued by us, the deferral state. */
export function unwrapDeferred(body: unknown): { event: unknown; deferral?: Deferral } {
  if (typeof body !== 'object' || body === null || !('atrest' in body)) return { event: body };
  const parsed = Requeued().safeParse(body);
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
const DEFERRAL_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The most re-queues an honest chain can need to reach `deadlineMs`: every delay is at least 80 %
 * of 60 s, so more attempts than the deadline divided by 48 s (plus the first) cannot come from
 * our own wrapper — a forged or corrupted count would otherwise keep the chain alive.
 */
function maxDeferralAttempts(deadlineMs: number): number {
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

export function expire(outcome: Outcome, plan: Extract<DeferralPlan, { kind: 'expired' }>): Outcome {
  const { reason, ...rest } = outcome;
  return {
    ...rest,
    outcome: 'failed',
    error: { code: plan.code, message: `${plan.why}: ${reason ?? 'deferred'}` },
  };
}

/** Re-invokes this same function asynchronously with a delay (FC 3.0 InvokeFunction). */
export async function requeue(
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
