/**
 * The outcome of one remediation, exactly as CONTRACT.md section 2 defines it: one NDJSON line on
 * the CLI, one structured log line in a deployed function.
 */

/**
 * A function id, `<cloud>.<folder>` (`aws.log-group-kms`). Open on purpose: the set of ids is the
 * set of manifests (functions/manifests.ts), so adding a function never edits core.
 */
export type FunctionId = `${'aws' | 'alicloud'}.${string}`;

export const OUTCOMES = [
  'applied',
  'compliant',
  'excluded',
  'ignored',
  'deferred',
  'gone',
  'duplicate',
  'rejected',
  'failed',
] as const;

export type OutcomeKind = (typeof OUTCOMES)[number];

export interface OutcomeError {
  /** The service's own error code (or one of ours: `InvalidEvent`, `EncryptionImmutable`, …). */
  code: string;
  message: string;
  /** The service's request id, when the failure came from a cloud API. */
  requestId?: string;
}

export interface Outcome {
  function: FunctionId;
  eventId: string;
  /** ARN (AWS) or the resource's id (Alibaba Cloud); empty when the event was too broken to name one. */
  resource: string;
  region: string;
  account?: string;
  outcome: OutcomeKind;
  /** Write calls made (0 when nothing was written). */
  attempts: number;
  durationMs: number;
  dryRun: boolean;
  /** Why it was excluded, ignored or deferred. */
  reason?: string;
  /** Only when outcome is `failed` or `rejected`. */
  error?: OutcomeError;
  /**
   * Only on `duplicate`: true when the record shows the work completed, false when another run
   * still holds it in progress — then nothing is done yet and the delivery is not settled.
   */
  settled?: boolean;
}

/** Outcomes that are errors: logged at ERROR, counted by the failure alarms. */
export const isFailure = (o: Pick<Outcome, 'outcome'>): boolean =>
  o.outcome === 'failed' || o.outcome === 'rejected';

/**
 * Settled means settled: the work is done (`applied`, `compliant`, `excluded`, `gone`, `ignored`,
 * a `duplicate` of completed work). Anything else — failed, rejected, deferred, a duplicate of work
 * still in progress — must not be acknowledged: Lambda and Function Compute throw so the platform
 * retries or dead-letters the event, and the CLI exits 1.
 */
export const isSettled = (o: Pick<Outcome, 'outcome' | 'settled'>): boolean => {
  switch (o.outcome) {
    case 'applied':
    case 'compliant':
    case 'excluded':
    case 'gone':
    case 'ignored':
      return true;
    case 'duplicate':
      return o.settled !== false;
    default:
      return false;
  }
};
