/**
 * The idempotency port (functions/core/idempotency.ts) on Powertools for AWS Lambda's idempotency
 * utility with its DynamoDB persistence layer: one conditional PutItem takes the key, concurrent
 * holders get `IdempotencyAlreadyInProgressError`, a completed record answers later deliveries
 * until it expires. Table: `$IDEMPOTENCY_TABLE_NAME` (hash key `id`, TTL on `expiration`); endpoint
 * only through the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`.
 *
 * Mapping of the port onto Powertools:
 * - Powertools hashes a payload; we hand it `{ key }` and select it with `eventKeyJmesPath: 'key'`.
 * - `ttlSeconds` is `expiresAfterSeconds`. The in-progress lock (`in_progress_expiration`) lasts
 *   `lockSeconds` — as long as one invocation can run — whatever time is left when the key is
 *   claimed: Powertools reads it from the registered context, so we register one that answers it.
 * - The record's response data is `{"startedAt": <epoch ms the run began>, "value": …}`. A completed
 *   record that began before the delivery was observed is new work: it is deleted with a
 *   conditional DeleteItem (still COMPLETED, same data: of two racers only one can) and the claim
 *   runs again. A record without `startedAt` (older versions) settles nothing.
 * - Each claim carries an owner token (`payloadValidationJmesPath: 'owner'`: Powertools stores its
 *   hash as `validation`). When the claim's answer never arrives (connection lost, timeout) the
 *   PutItem may still have landed; we then delete the record only if it is ours (conditional
 *   DeleteItem on `validation`), so the platform's retry a minute later runs instead of finding
 *   the key in progress until the timeout. A record of another owner makes Powertools raise
 *   IdempotencyValidationError with the record, which we read as in progress or completed.
 * - `keep: false` (failed, deferred) must leave no record: the wrapped function throws a private
 *   error carrying the value, Powertools deletes the record and rethrows, and we unwrap it.
 * - Errors: Powertools wraps the SDK's (`Failed to save in progress record…`); we unwrap them into
 *   IdempotencyStoreError with the DynamoDB code (`ResourceNotFoundException`,
 *   `ProvisionedThroughputExceededException`, `AccessDeniedException`, …), request id and step.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { type AttributeValue, DeleteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { IdempotencyStoreError } from '#core/errors';
import {
  type IdempotencyStore,
  judgeRecord,
  type RunOptions,
  type RunResult,
  type Settled,
} from '#core/idempotency';
import { boundedDynamoClient, idempotencyTableName } from './dynamo.ts';
import { classifyAwsError, isConditionFailed } from './errors.ts';

/** Shared by the Lambda and the CLI, so both see the same records (Powertools would use the function name). */
const KEY_PREFIX = 'atrest';
/** Stale completed records replaced in one call before reporting contention. */
const MAX_ROUNDS = 3;

export interface PowertoolsIdempotencyStoreOptions {
  /** DynamoDB table. Default: `$IDEMPOTENCY_TABLE_NAME`; one of the two is required. */
  tableName?: string;
  /** A ready client (tests, shared connection pool). Default: a DynamoDBClient with the default chain. */
  client?: DynamoDBClient;
  /** Where to read `IDEMPOTENCY_TABLE_NAME`. Default: `process.env`. */
  env?: Record<string, string | undefined>;
}

/** Thrown through Powertools so it deletes the record; carries the work's value back out. */
class ReleaseRecord<T> extends Error {
  constructor(readonly value: T) {
    super('idempotency record released: the work did not settle');
    this.name = 'ReleaseRecord';
  }
}

/** Powertools' layer, able to name the DynamoDB item of one of our keys. */
class AtrestDynamoDBLayer extends DynamoDBPersistenceLayer {
  itemKey(key: string): Record<string, AttributeValue> {
    return this.getKey(this.getHashedIdempotencyKey({ key }));
  }
}

interface Stored {
  startedAt?: number;
}

export class PowertoolsIdempotencyStore implements IdempotencyStore {
  private readonly tableName: string;
  private client: DynamoDBClient | undefined;
  /** One layer per TTL: a Powertools layer keeps the config of its first use. */
  private readonly layers = new Map<number, AtrestDynamoDBLayer>();

  constructor(options: PowertoolsIdempotencyStoreOptions = {}) {
    this.tableName = idempotencyTableName(options, 'the DynamoDB idempotency table');
    this.client = options.client;
  }

  get table(): string {
    return this.tableName;
  }

  async run<T>(key: string, options: RunOptions, work: () => Promise<Settled<T>>): Promise<RunResult<T>> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const result = await this.once(key, options, work);
      if (result.kind !== 'stale') return result;
      await this.removeStale(key, options.ttlSeconds, result.data);
    }
    throw new IdempotencyStoreError(
      'claim',
      `idempotency key ${key}: its completed record kept changing (${MAX_ROUNDS} rounds)`,
      { code: 'ClaimContention' },
    );
  }

  private async once<T>(
    key: string,
    options: RunOptions,
    work: () => Promise<Settled<T>>,
  ): Promise<RunResult<T> | { kind: 'stale'; data: string }> {
    const owner = randomUUID();
    const config = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      payloadValidationJmesPath: 'owner',
      hashFunction: 'md5',
      expiresAfterSeconds: options.ttlSeconds,
      // Our key is never empty; if it ever were, fail rather than run without idempotency.
      throwOnNoIdempotencyKey: true,
    });
    // Powertools sets in_progress_expiration = now + this; a killed holder's lock ends with it.
    config.registerLambdaContext({ getRemainingTimeInMillis: () => options.lockSeconds * 1000 } as Context);

    let ran = false;
    let settled: Settled<T> | undefined;
    let workError: { error: unknown } | undefined;
    const idempotent = makeIdempotent(
      async (_payload: { key: string; owner: string }) => {
        ran = true;
        const startedAt = Date.now();
        try {
          settled = await work();
        } catch (error) {
          workError = { error };
          throw error;
        }
        if (!settled.keep) throw new ReleaseRecord(settled.value);
        // Stored as the record's response data: a JSON string marshals whatever T is.
        return JSON.stringify({ startedAt, value: settled.value ?? null });
      },
      { persistenceStore: this.layer(options.ttlSeconds), config, keyPrefix: KEY_PREFIX },
    );

    let answer: unknown;
    try {
      answer = await idempotent({ key, owner });
    } catch (error) {
      if (workError) throw workError.error;
      if (error instanceof ReleaseRecord) return { kind: 'ran', value: error.value as T };
      if (error instanceof IdempotencyAlreadyInProgressError)
        return { kind: 'duplicate', state: 'inProgress' };
      if (error instanceof IdempotencyValidationError) {
        // Another owner's record (Powertools checks our token against it before anything else).
        const record = error.existingRecord;
        if (record?.getStatus() !== 'COMPLETED') return { kind: 'duplicate', state: 'inProgress' };
        answer = record.responseData;
      } else if (settled) {
        // The work finished; recording it (keep) or deleting the lock (not keep) failed. After a
        // failed completion, free the key if we can: a later delivery then reads (compliant)
        // instead of finding it in progress until the timeout.
        const step = settled.keep ? 'complete' : 'release';
        if (settled.keep) await this.releaseOwnClaim(key, options.ttlSeconds, owner);
        return { kind: 'ran', value: settled.value, storeError: mapStoreError(step, error) };
      } else {
        const failure = mapStoreError('claim', error);
        // No answer at all: the claim may have landed. Take back our own, so a retry can run.
        if (failure.status === undefined) await this.releaseOwnClaim(key, options.ttlSeconds, owner);
        throw failure;
      }
    }
    if (ran) return { kind: 'ran', value: (settled as Settled<T>).value };
    const data = typeof answer === 'string' ? answer : JSON.stringify(answer ?? null);
    const stored = parseStored(data);
    // Powertools only returns a live completed record; whether it covers this delivery is ours to say.
    const state = judgeRecord(
      {
        status: 'completed',
        expiresAt: Number.POSITIVE_INFINITY,
        ...(stored.startedAt !== undefined ? { startedAt: stored.startedAt } : {}),
      },
      Date.now(),
      options.observedAt,
    );
    return state === 'completed' ? { kind: 'duplicate', state } : { kind: 'stale', data };
  }

  /** Deletes a completed record that began before this delivery, unless someone changed it since. */
  private async removeStale(key: string, ttlSeconds: number, data: string): Promise<void> {
    const layer = this.layer(ttlSeconds);
    try {
      await this.dynamo().send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: layer.itemKey(key),
          ConditionExpression: '#status = :completed AND #data = :data',
          ExpressionAttributeNames: { '#status': 'status', '#data': 'data' },
          ExpressionAttributeValues: { ':completed': { S: 'COMPLETED' }, ':data': { S: data } },
        }),
      );
    } catch (error) {
      // Someone else replaced or renewed it: the next round reads what is there now.
      if (isConditionFailed(error)) return;
      throw mapStoreError('claim', error);
    }
  }

  /** Deletes the in-progress record if it is the one this claim wrote; any failure is left to the lock's expiry. */
  private async releaseOwnClaim(key: string, ttlSeconds: number, owner: string): Promise<void> {
    // Powertools' validation hash: md5, base64, of the JSON of the selected value.
    const hash = createHash('md5').update(JSON.stringify(owner)).digest('base64');
    try {
      await this.dynamo().send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: this.layer(ttlSeconds).itemKey(key),
          ConditionExpression: '#status = :inprogress AND #validation = :owner',
          ExpressionAttributeNames: { '#status': 'status', '#validation': 'validation' },
          ExpressionAttributeValues: { ':inprogress': { S: 'INPROGRESS' }, ':owner': { S: hash } },
        }),
      );
    } catch {
      // Not ours, not there, or unreachable: the lock ends with the function's timeout.
    }
  }

  private dynamo(): DynamoDBClient {
    // One try per call, bounded in time. An SDK retry of a conditional PutItem whose answer was lost
    // finds our own fresh in-progress record and Powertools reports it as held by another run.
    // Failing instead lets the platform retry (test/hardening/records.test.ts).
    this.client ??= boundedDynamoClient(1);
    return this.client;
  }

  private layer(ttlSeconds: number): AtrestDynamoDBLayer {
    const existing = this.layers.get(ttlSeconds);
    if (existing) return existing;
    const layer = new AtrestDynamoDBLayer({ tableName: this.tableName, awsSdkV3Client: this.dynamo() });
    this.layers.set(ttlSeconds, layer);
    return layer;
  }
}

function parseStored(data: string): Stored {
  try {
    const parsed = JSON.parse(data) as unknown;
    if (typeof parsed === 'object' && parsed !== null && 'startedAt' in parsed) {
      const startedAt = (parsed as { startedAt: unknown }).startedAt;
      if (typeof startedAt === 'number' && Number.isFinite(startedAt)) return { startedAt };
    }
  } catch {
    // An older record's data: settles nothing.
  }
  return {};
}

/**
 * Powertools wraps the SDK's error (`Failed to save in progress record…`, `cause`: the SDK's);
 * the DynamoDB code and request id are on the innermost error that has `$metadata`.
 */
export function mapStoreError(step: IdempotencyStoreError['step'], error: unknown): IdempotencyStoreError {
  if (error instanceof IdempotencyStoreError) return error;
  const outer = error instanceof Error ? error.message : String(error);
  let sdk: unknown = error;
  for (let depth = 0; depth < 5 && sdk instanceof Error; depth++) {
    if ('$metadata' in sdk) break;
    if (sdk.cause === undefined) break;
    sdk = sdk.cause;
  }
  const classified = classifyAwsError(sdk);
  const inner = classified.message;
  return new IdempotencyStoreError(
    step,
    `idempotency store (${step}): ${outer === inner ? inner : `${outer}: ${inner}`}`,
    {
      code: classified.code,
      ...(classified.requestId !== undefined ? { requestId: classified.requestId } : {}),
      ...(classified.status !== undefined ? { status: classified.status } : {}),
    },
    { cause: error },
  );
}
