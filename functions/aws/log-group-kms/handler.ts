/**
 * Lambda entry of aws.log-group-kms: middy + Powertools Logger around the engine.
 *
 * Init (once per instance): the config is parsed from `$ATREST_CONFIG_JSON` — a bad config fails
 * the init with a ConfigError naming the field, before any event is touched. Idempotency: the
 * DynamoDB table `$IDEMPOTENCY_TABLE_NAME` through Powertools when set, else per-instance memory.
 *
 * Per event: one structured log line per outcome (every Outcome field plus EMF metrics). Settled
 * means settled: any outcome whose work is not done — `failed`, `rejected`, `deferred`, or a
 * `duplicate` of work another invocation still holds in progress (`settled: false`) — makes the
 * invocation throw, with the outcomes in the message, so Lambda's async retries run again and the
 * on-failure destination (DLQ) receives the event and the reason. Returning success for an
 * in-progress duplicate would drop the event if that holder then fails or dies.
 *
 * The in-progress lock lives as long as one invocation can: Lambda does not tell a function its
 * configured timeout, so it is read as `getRemainingTimeInMillis()` at the start of the invocation
 * (that is the timeout, less the few ms before our code runs), whatever is left when a key is
 * claimed later in a sweep. Rejected events go there too, as on Function Compute: a retry is only a
 * parse, and if CloudTrail's shape ever drifts from our schema the events wait in the dead letter
 * (and its alarm fires) instead of vanishing into a log line.
 *
 * Accounts (#core/accounts, README "Organizations"): the own account is the invoked function
 * ARN's. An event of another account ends `ignored` without `aws.organization`; with it, the
 * event's reads and writes use the member role's credentials (STS AssumeRole, cached per account
 * for the life of the instance, clients per account and region). Rate limits are per account
 * and region.
 *
 * Scheduled sweep: the rule infra/aws wires sends exactly `{"atrest":{"sweep":true}}`. Then every
 * log group of this region (`$AWS_REGION`) goes through the same engine and idempotency, paced at
 * `$ATREST_SWEEP_RATE` CloudWatch Logs calls per second (default 5, so live events keep their
 * quota; listing pages included), until the invocation has SWEEP_RESERVE_MS left; a run that stops
 * early keeps its listing cursor in the idempotency table and the next run resumes there. Each
 * outcome is logged as above, then one `sweep` summary line; the sweep never throws for a resource
 * (failed ones raise the outcome alarm through their metric), and returns its outcomes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { CredentialCache, CredentialsUnavailableError, routeByAccount } from '#core/accounts';
import { type Config, composeConfig } from '#core/config';
import { type EngineDeps, remediateEvent } from '#core/engine';
import { ConfigError } from '#core/errors';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { type RateLimiter, ScopedRateLimiter, withRateLimit } from '#core/ratelimit';
import type { Remediator } from '#core/remediator';
import { MemoryRestoreCounter, type RestoreCounter } from '#core/restores';
import { outcomeLevel, UnsettledOutcomeError, unsettledOutcomes } from '#core/settle';
import { isSweepEvent, scheduledSweep, sweepRateFrom } from '#core/sweep';
import { MemorySweepCursorStore, type SweepCursorStore } from '#core/sweep-cursor';
import { AWS_REGION } from '#core/validation';
import { AwsAccounts, type AwsSessionCredentials, accountOfFunctionArn } from '../accounts.ts';
import { logsClient } from '../clients.ts';
import { PowertoolsIdempotencyStore } from '../idempotency.ts';
import { outcomeWithMetrics } from '../metrics.ts';
import { DynamoRestoreCounter } from '../restores.ts';
import { DynamoDbSweepCursorStore } from '../sweep-cursor.ts';
import { logGroupKmsConfig } from './config.ts';
import { createRemediator, type DesiredKey, type LogGroupState, type LogGroupTarget } from './remediator.ts';

export interface HandlerDeps {
  /** Environment to read (`ATREST_CONFIG_JSON`, `IDEMPOTENCY_TABLE_NAME`). Default: `process.env`. */
  env?: Record<string, string | undefined>;
  /** Default: a Powertools Logger with service `atrest`. */
  logger?: Logger;
  /** Default: Powertools/DynamoDB when `IDEMPOTENCY_TABLE_NAME` is set, else per-instance memory. */
  store?: IdempotencyStore;
  /** Counts tamper restores. Default: DynamoDB (the idempotency table) when `IDEMPOTENCY_TABLE_NAME` is set, else per-instance memory. */
  restores?: RestoreCounter;
  /** Default: `createRemediator()` with the real CloudWatch Logs clients. */
  remediator?: Remediator<LogGroupTarget, DesiredKey, LogGroupState>;
  /** Paces this instance's reads and writes after a throttle. Default: one ScopedRateLimiter (per account and region) per instance. */
  limiter?: RateLimiter;
  /** STS for member accounts (config `aws.organization`). Default: AwsAccounts in `$AWS_REGION`. */
  sts?: Pick<AwsAccounts, 'assume'>;
  /** The remediator of a member account, given its current credentials. Default: createRemediator with that account's clients. */
  memberRemediator?: (
    account: string,
    credentials: () => AwsSessionCredentials,
  ) => Remediator<LogGroupTarget, DesiredKey, LogGroupState>;
  /** Clock of the credentials cache (tests simulate expiry). Default Date.now. */
  clock?: () => number;
  /** Engine knobs for tests (`sleep`, `random`, `now`, `verifyReads`). */
  engine?: Pick<EngineDeps, 'sleep' | 'random' | 'now' | 'verifyReads'>;
  /** Where a scheduled sweep resumes. Default: the idempotency table when set, else per-instance memory. */
  cursors?: SweepCursorStore;
  /** The sweep's pacing clock (tests: a fake clock that `engine.sleep` advances). Default: real time. */
  now?: () => number;
}

// Shared with the Function Compute adapter (#core/settle); re-exported because this module always offered it.
export { UnsettledOutcomeError } from '#core/settle';

// Shared with the Function Compute timer sweep; re-exported because this module always offered them.
export {
  DEFAULT_SWEEP_RATE,
  isSweepEvent,
  SWEEP_RESERVE_MS,
  SweepEvent,
  sweepRateFrom,
} from '#core/sweep';

function defaultCursors(env: Record<string, string | undefined>): SweepCursorStore {
  const table = env.IDEMPOTENCY_TABLE_NAME;
  return table !== undefined && table !== ''
    ? new DynamoDbSweepCursorStore({ tableName: table })
    : new MemorySweepCursorStore();
}

function defaultStore(env: Record<string, string | undefined>): IdempotencyStore {
  const table = env.IDEMPOTENCY_TABLE_NAME;
  return table !== undefined && table !== ''
    ? new PowertoolsIdempotencyStore({ tableName: table })
    : new MemoryIdempotencyStore();
}

function defaultRestores(env: Record<string, string | undefined>): RestoreCounter {
  const table = env.IDEMPOTENCY_TABLE_NAME;
  return table !== undefined && table !== ''
    ? new DynamoRestoreCounter({ tableName: table })
    : new MemoryRestoreCounter();
}

function log(logger: Logger, outcome: Outcome): void {
  // A plain record: the Logger merges its keys into the line (an interface type has no index signature).
  const line: Record<string, unknown> = { ...outcomeWithMetrics(outcome) };
  // Same levels as the Function Compute adapter (#core/settle).
  const level = outcomeLevel(outcome);
  if (level === 'ERROR') logger.error('outcome', line);
  else if (level === 'WARN') logger.warn('outcome', line);
  else logger.info('outcome', line);
}

/** Its own section and the shared parts only (#core/config `composeConfig`): schemas built at init. */
const ownConfig = composeConfig([logGroupKmsConfig], { scope: 'own' });

export function createHandler(deps: HandlerDeps = {}) {
  const env = deps.env ?? process.env;
  const config = ownConfig.configFromEnv(env);
  const logger = deps.logger ?? new Logger({ serviceName: 'atrest' });
  const store = deps.store ?? defaultStore(env);
  const restores = deps.restores ?? defaultRestores(env);
  // Whose account (#core/accounts): the own account comes from the invoked ARN at the first
  // invocation; member accounts' credentials are cached for the life of the instance.
  let own: { account: string; partition: string } | undefined;
  const sts = deps.sts ?? new AwsAccounts({ region: env.AWS_REGION ?? 'us-east-1' });
  const roleName = config.aws?.organization?.memberRoleName ?? '';
  const cache = new CredentialCache<AwsSessionCredentials>(
    (account) => sts.assume(account, roleName, own?.partition ?? 'aws'),
    deps.clock ? { now: deps.clock } : {},
  );
  const makeMember =
    deps.memberRemediator ??
    ((account: string, credentials: () => AwsSessionCredentials) =>
      createRemediator({
        client: (region) => logsClient(region, { member: { account, credentials: credentials() } }),
      }));
  const members = new Map<string, Remediator<LogGroupTarget, DesiredKey, LogGroupState>>();
  const routed = routeByAccount(
    deps.remediator ?? createRemediator(),
    {
      cloud: 'aws',
      ownAccount: () => own?.account,
      member: async (account) => {
        await cache.get(account);
        let member = members.get(account);
        if (member === undefined) {
          member = makeMember(account, () => {
            const current = cache.current(account);
            if (current === undefined) throw new CredentialsUnavailableError(account);
            return current;
          });
          members.set(account, member);
        }
        return member;
      },
    },
    config,
  );
  // Kept for the life of the instance: a burst of creations is paced, not retried into failure;
  // per account and region, as the quotas are, and the sweep yields to live events.
  const limiter = deps.limiter ?? new ScopedRateLimiter();
  const remediator = withRateLimit(routed, limiter);
  const sweeper = withRateLimit(routed, limiter, { background: true });
  const sweepRate = sweepRateFrom(env);
  const cursors = deps.cursors ?? defaultCursors(env);

  const run = async (event: unknown, context: Context): Promise<Outcome[]> => {
    own ??= accountOfFunctionArn(context.invokedFunctionArn);
    // As long as this invocation can run (see the header), at least a second.
    const lockSeconds = Math.max(1, Math.ceil(context.getRemainingTimeInMillis() / 1000));
    if (isSweepEvent(event))
      return sweep(
        {
          env,
          config,
          logger,
          remediator: sweeper,
          engine: deps.engine,
          rate: sweepRate,
          lockSeconds,
          cursors,
          ...(deps.now ? { now: deps.now } : {}),
        },
        store,
        context,
      );
    const outcomes = await remediateEvent(remediator, event, {
      ...deps.engine,
      config,
      store,
      restores,
      lockSeconds,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
    for (const outcome of outcomes) log(logger, outcome);
    const unsettled = unsettledOutcomes(outcomes);
    if (unsettled.length > 0) throw new UnsettledOutcomeError(unsettled);
    return outcomes;
  };

  return middy<unknown, Outcome[], Error, Context>().use(injectLambdaContext(logger)).handler(run);
}

export const handler = createHandler();

interface SweepDeps {
  env: Record<string, string | undefined>;
  config: Config;
  logger: Logger;
  remediator: Remediator<LogGroupTarget, DesiredKey, LogGroupState>;
  engine: HandlerDeps['engine'];
  rate: number;
  lockSeconds: number;
  cursors: SweepCursorStore;
  now?: () => number;
}

/** The scheduled sweep of this region; see the header. */
async function sweep(deps: SweepDeps, store: IdempotencyStore, context: Context): Promise<Outcome[]> {
  const region = deps.env.AWS_REGION;
  if (region === undefined || !AWS_REGION.test(region))
    throw new ConfigError([`AWS_REGION: ${JSON.stringify(region)} is not a region (Lambda sets it)`]);
  const { result, summary } = await scheduledSweep(deps.remediator, region, {
    config: deps.config,
    store,
    rate: deps.rate,
    remainingMs: () => context.getRemainingTimeInMillis(),
    engine: { ...deps.engine, lockSeconds: deps.lockSeconds },
    // Real time unless a test drives a fake clock (engine.sleep alone must not make pacing spin).
    ...(deps.now
      ? { clock: { now: deps.now, ...(deps.engine?.sleep ? { sleep: deps.engine.sleep } : {}) } }
      : {}),
    cursors: deps.cursors,
    onOutcome: (outcome) => log(deps.logger, outcome),
  });
  // Incomplete (time budget or a listing failure) is a warning: the next scheduled run resumes
  // where this one stopped, and the failed outcome of a listing error has already raised the alarm.
  if (result.complete) deps.logger.info('sweep', { ...summary });
  else deps.logger.warn('sweep', { ...summary });
  return result.outcomes;
}
