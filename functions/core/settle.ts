/**
 * What a platform adapter (Lambda, Function Compute) does with the outcomes of one invocation,
 * the same on both: one log line per outcome at the level its kind calls for, then "settled means
 * settled" — any outcome whose work is not done makes the invocation throw, after logging, so the
 * platform's async retry runs it again and its dead letter receives the event with the reason.
 * Returning success for such an outcome would drop the event. No platform import here: the
 * adapters bring their own logger and error wrapping.
 */
import { isFailure, isSettled, type Outcome } from './outcome.ts';

export type OutcomeLevel = 'INFO' | 'WARN' | 'ERROR';

/** ERROR for failed/rejected, WARN for the other unsettled ones (deferred, in-progress duplicate), else INFO. */
export function outcomeLevel(outcome: Pick<Outcome, 'outcome' | 'settled'>): OutcomeLevel {
  if (isFailure(outcome)) return 'ERROR';
  return isSettled(outcome) ? 'INFO' : 'WARN';
}

/**
 * The outcomes that make the invocation throw: every unsettled one, except those the adapter has
 * handed on itself (Function Compute re-queues a `deferred` event with a delay; the re-queued
 * delivery carries the work on, so this one is settled).
 */
export function unsettledOutcomes(
  outcomes: readonly Outcome[],
  handedOn: (outcome: Outcome) => boolean = () => false,
): Outcome[] {
  return outcomes.filter((o) => !isSettled(o) && !handedOn(o));
}

/** Thrown after logging when an invocation did not settle, so the platform retries it and the dead letter gets the reason. */
export class UnsettledOutcomeError extends Error {
  readonly outcomes: Outcome[];

  constructor(outcomes: Outcome[], message?: string, options?: ErrorOptions) {
    super(
      message ?? `atrest: ${outcomes.length} outcome(s) not settled: ${JSON.stringify(outcomes)}`,
      options,
    );
    this.name = 'UnsettledOutcomeError';
    this.outcomes = outcomes;
  }
}
