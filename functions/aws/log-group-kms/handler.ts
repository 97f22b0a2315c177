/**
 * Lambda entry of aws.log-group-kms: middy + Powertools Logger around the engine.
 *
 * Init (once per instance): the config is parsed from `$ATREST_CONFIG_JSON` — a bad config fails
 * the init with a ConfigError naming the field, before any event is touched. Idempotency: the
 * DynamoDB table `$IDEMPOTENCY_TABLE_NAME` through Powertools when set, else per-instance memory.
 *
 * Per event: one structured log line per outcome (every Outcome field plus EMF metrics). A
 * `failed` or `deferred` outcome makes the invocation throw, with the outcomes in the message, so
 * Lambda's async retries run again and the on-failure destination (DLQ) receives the reason.
 * `rejected` is only logged: a malformed event stays malformed however often it is retried.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { configFromEnv } from '#core/config';
import { type EngineDeps, remediateEvent } from '#core/engine';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import type { Remediator } from '#core/remediator';
import { PowertoolsIdempotencyStore } from '../idempotency.ts';
import { outcomeWithMetrics } from '../metrics.ts';
import { createRemediator, type DesiredKey, type LogGroupState, type LogGroupTarget } from './remediator.ts';

export interface HandlerDeps {
  /** Environment to read (`ATREST_CONFIG_JSON`, `IDEMPOTENCY_TABLE_NAME`). Default: `process.env`. */
  env?: Record<string, string | undefined>;
  /** Default: a Powertools Logger with service `atrest`. */
  logger?: Logger;
  /** Default: Powertools/DynamoDB when `IDEMPOTENCY_TABLE_NAME` is set, else per-instance memory. */
  store?: IdempotencyStore;
  /** Default: `createRemediator()` with the real CloudWatch Logs clients. */
  remediator?: Remediator<LogGroupTarget, DesiredKey, LogGroupState>;
  /** Engine knobs for tests (`sleep`, `random`, `now`, `verifyReads`). */
  engine?: Pick<EngineDeps, 'sleep' | 'random' | 'now' | 'verifyReads'>;
}

/** Thrown after logging when an event did not settle, so Lambda retries it and the DLQ gets the reason. */
export class UnsettledOutcomeError extends Error {
  readonly outcomes: readonly Outcome[];

  constructor(outcomes: readonly Outcome[]) {
    super(`atrest: ${outcomes.length} outcome(s) not settled: ${JSON.stringify(outcomes)}`);
    this.name = 'UnsettledOutcomeError';
    this.outcomes = outcomes;
  }
}

const isUnsettled = (o: Outcome): boolean => o.outcome === 'failed' || o.outcome === 'deferred';

function defaultStore(env: Record<string, string | undefined>): IdempotencyStore {
  const table = env.IDEMPOTENCY_TABLE_NAME;
  return table !== undefined && table !== ''
    ? new PowertoolsIdempotencyStore({ tableName: table })
    : new MemoryIdempotencyStore();
}

function log(logger: Logger, outcome: Outcome): void {
  // A plain record: the Logger merges its keys into the line (an interface type has no index signature).
  const line: Record<string, unknown> = { ...outcomeWithMetrics(outcome) };
  if (outcome.outcome === 'failed') logger.error('outcome', line);
  else if (outcome.outcome === 'rejected' || outcome.outcome === 'deferred') logger.warn('outcome', line);
  else logger.info('outcome', line);
}

export function createHandler(deps: HandlerDeps = {}) {
  const env = deps.env ?? process.env;
  const config = configFromEnv(env);
  const logger = deps.logger ?? new Logger({ serviceName: 'atrest' });
  const store = deps.store ?? defaultStore(env);
  const remediator = deps.remediator ?? createRemediator();

  const run = async (event: unknown, context: Context): Promise<Outcome[]> => {
    // The Powertools lock then expires with this invocation, not an hour later.
    const invocationStore =
      store instanceof PowertoolsIdempotencyStore ? store.withLambdaContext(context) : store;
    const outcomes = await remediateEvent(remediator, event, {
      ...deps.engine,
      config,
      store: invocationStore,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
    for (const outcome of outcomes) log(logger, outcome);
    const unsettled = outcomes.filter(isUnsettled);
    if (unsettled.length > 0) throw new UnsettledOutcomeError(unsettled);
    return outcomes;
  };

  return middy<unknown, Outcome[], Error, Context>().use(injectLambdaContext(logger)).handler(run);
}

export const handler = createHandler();
