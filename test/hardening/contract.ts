/**
 * CONTRACT.md section 2 as a checker: every Outcome a function returns must be one of these lines,
 * whatever it was fed. Used by the fuzz and secrets suites.
 */
import * as z from 'zod/mini';
import { type FunctionId, OUTCOMES, type Outcome } from '#core/outcome';
import { ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import { FUNCTION_IDS } from '../../functions/manifests.ts';

/** Long enough for five validation issues, short enough that no input is echoed back wholesale. */
export const MAX_TEXT = 2_000;

const text = z.string().check(z.maxLength(MAX_TEXT));

export const OutcomeLine = z.strictObject({
  function: z.enum(FUNCTION_IDS as [FunctionId, ...FunctionId[]]),
  eventId: z.string().check(z.maxLength(256)),
  resource: z.string().check(z.maxLength(1_024)),
  region: z.string(),
  account: z.optional(z.string()),
  outcome: z.enum(OUTCOMES),
  attempts: z.number().check(z.int(), z.minimum(0)),
  durationMs: z.number().check(z.minimum(0)),
  dryRun: z.boolean(),
  reason: z.optional(text),
  error: z.optional(
    z.strictObject({
      code: z.string().check(z.minLength(1), z.maxLength(256)),
      message: text,
      requestId: z.optional(z.string()),
    }),
  ),
  settled: z.optional(z.boolean()),
});

/** Why `outcome` breaks the contract, or an empty list. */
export function contractProblems(outcome: Outcome): string[] {
  const problems: string[] = [];
  const parsed = OutcomeLine.safeParse(outcome);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.code}`));
  const failure = outcome.outcome === 'failed' || outcome.outcome === 'rejected';
  if (failure !== (outcome.error !== undefined))
    problems.push('error must be present exactly when failed/rejected');
  if ((outcome.outcome === 'duplicate') !== (outcome.settled !== undefined))
    problems.push('settled must be present exactly on duplicate lines');
  const region = outcome.function.startsWith('aws.') ? AWS_REGION : ALICLOUD_REGION;
  if (outcome.region !== '' && !region.test(outcome.region)) problems.push(`region ${outcome.region}`);
  if (outcome.outcome !== 'rejected' && outcome.outcome !== 'ignored' && outcome.resource === '')
    problems.push('a remediated outcome names its resource');
  return problems;
}
