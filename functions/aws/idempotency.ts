/**
 * The idempotency port (functions/core/idempotency.ts) on Powertools for AWS Lambda's idempotency
 * utility with its DynamoDB persistence layer: one conditional PutItem takes the key, concurrent
 * holders get `IdempotencyAlreadyInProgressError`, a completed record answers later deliveries
 * until it expires. Table: `$IDEMPOTENCY_TABLE_NAME` (hash key `id`, TTL on `expiration`); endpoint
 * only through the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`.
 *
 * Mapping of the port onto Powertools:
 * - Powertools hashes a payload; we hand it `{ key }` and select it with `eventKeyJmesPath: 'key'`.
 * - `ttlSeconds` is `expiresAfterSeconds`. The in-progress lock expires with the Lambda context's
 *   remaining time when one is registered (`withLambdaContext`); outside Lambda (CLI) there is no
 *   context, so the lock lasts as long as the record (`ttlSeconds`).
 * - `keep: false` (failed, deferred) must leave no record: the wrapped function throws a private
 *   error carrying the value, Powertools deletes the record and rethrows, and we unwrap it.
 * - A stored result returned without running the work is `duplicate/completed`.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { ConfigError } from '#core/errors';
import type { IdempotencyStore, RunResult, Settled } from '#core/idempotency';
import { bounded, DEFAULT_MAX_BODY_BYTES } from './http.ts';

/** Shared by the Lambda and the CLI, so both see the same records (Powertools would use the function name). */
const KEY_PREFIX = 'atrest';

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

/** State shared by a store and the per-invocation views `withLambdaContext` returns. */
interface Shared {
  tableName: string;
  client?: DynamoDBClient;
  /** One layer per TTL: a Powertools layer keeps the config of its first use. */
  layers: Map<number, DynamoDBPersistenceLayer>;
}

export class PowertoolsIdempotencyStore implements IdempotencyStore {
  private shared: Shared;
  private readonly context: Context | undefined;

  constructor(options: PowertoolsIdempotencyStoreOptions = {}, context?: Context) {
    const tableName = options.tableName ?? (options.env ?? process.env).IDEMPOTENCY_TABLE_NAME;
    if (tableName === undefined || tableName.trim() === '')
      throw new ConfigError(['IDEMPOTENCY_TABLE_NAME: not set (the DynamoDB idempotency table)']);
    this.shared = { tableName, layers: new Map(), ...(options.client ? { client: options.client } : {}) };
    this.context = context;
  }

  /** This store, with the in-progress lock bounded by this invocation's remaining time. */
  withLambdaContext(context: Context): PowertoolsIdempotencyStore {
    const view = new PowertoolsIdempotencyStore({ tableName: this.shared.tableName }, context);
    view.shared = this.shared;
    return view;
  }

  get tableName(): string {
    return this.shared.tableName;
  }

  async run<T>(
    key: string,
    options: { ttlSeconds: number; lockSeconds: number },
    work: () => Promise<Settled<T>>,
  ): Promise<RunResult<T>> {
    const config = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      expiresAfterSeconds: options.ttlSeconds,
      // Our key is never empty; if it ever were, fail rather than run without idempotency.
      throwOnNoIdempotencyKey: true,
    });
    if (this.context) config.registerLambdaContext(this.context);

    let ran = false;
    let value: T | undefined;
    const idempotent = makeIdempotent(
      async (_payload: { key: string }) => {
        ran = true;
        const settled = await work();
        if (!settled.keep) throw new ReleaseRecord(settled.value);
        value = settled.value;
        // Stored as the record's response data: a JSON string marshals whatever T is.
        return JSON.stringify(settled.value) ?? 'null';
      },
      { persistenceStore: this.layer(options.ttlSeconds), config, keyPrefix: KEY_PREFIX },
    );

    try {
      await idempotent({ key });
    } catch (error) {
      if (error instanceof ReleaseRecord) return { kind: 'ran', value: error.value as T };
      if (error instanceof IdempotencyAlreadyInProgressError)
        return { kind: 'duplicate', state: 'inProgress' };
      throw error;
    }
    return ran ? { kind: 'ran', value: value as T } : { kind: 'duplicate', state: 'completed' };
  }

  private layer(ttlSeconds: number): DynamoDBPersistenceLayer {
    const existing = this.shared.layers.get(ttlSeconds);
    if (existing) return existing;
    // One try per call, bounded in time. An SDK retry of a conditional PutItem whose answer was lost
    // finds our own fresh in-progress record and Powertools reports it as held by another run: the
    // event would end `duplicate` and be dropped. Failing instead lets the platform's retry run it
    // once the lock (bounded by the invocation) has expired (test/hardening/records.test.ts).
    // `bounded`: a 5 s deadline on the whole exchange, body included, and a 1 MiB body cap.
    this.shared.client ??= bounded(
      new DynamoDBClient({
        maxAttempts: 1,
        requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
      }),
      { deadlineMs: 5_000, maxBodyBytes: DEFAULT_MAX_BODY_BYTES },
    );
    const layer = new DynamoDBPersistenceLayer({
      tableName: this.shared.tableName,
      awsSdkV3Client: this.shared.client,
    });
    this.shared.layers.set(ttlSeconds, layer);
    return layer;
  }
}
