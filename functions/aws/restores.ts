/**
 * The restore counter (functions/core/restores.ts) on the idempotency table: one item per resource
 * and clock hour, `id = atrest#restores#<key>#<hour>`, whose string set `calls` holds the tamper
 * calls restored. One atomic UpdateItem adds the call (`ADD calls :call`) on condition that it is
 * already there or the set is smaller than the limit; a failed condition is the cap, not an error.
 * Adding to a set is idempotent, so an SDK or platform retry never counts one tamper twice.
 * `expiration` (the table's TTL attribute, epoch seconds) removes the item an hour after its window.
 *
 * The Lambda's role already holds dynamodb:UpdateItem on this table (the idempotency grant); no new
 * permission. Endpoint only through the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`.
 */
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type RestoreCounter, type RestoreTake, WINDOW_MS, windowOf } from '#core/restores';
import { boundedDynamoClient, idempotencyTableName } from './dynamo.ts';
import { isConditionFailed } from './errors.ts';

/** Same prefix as the idempotency records (functions/aws/idempotency.ts), then our own namespace. */
export const RESTORE_ID_PREFIX = 'atrest#restores#';

export interface DynamoRestoreCounterOptions {
  /** Default: `$IDEMPOTENCY_TABLE_NAME`. */
  tableName?: string;
  /** A ready client (tests). Default: three tries per call, bounded in time, default credential chain. */
  client?: DynamoDBClient;
  env?: Record<string, string | undefined>;
}

export class DynamoRestoreCounter implements RestoreCounter {
  private readonly tableName: string;
  private client: DynamoDBClient | undefined;

  constructor(options: DynamoRestoreCounterOptions = {}) {
    this.tableName = idempotencyTableName(options, 'the DynamoDB table that also counts restores');
    this.client = options.client;
  }

  async take(key: string, callId: string, limit: number, nowMs: number): Promise<RestoreTake> {
    const window = windowOf(nowMs);
    // Three tries: adding to a set is idempotent, so a retried UpdateItem never counts a tamper twice.
    this.client ??= boundedDynamoClient(3);
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { id: { S: `${RESTORE_ID_PREFIX}${key}#${window}` } },
          UpdateExpression: 'ADD #calls :call SET #expiration = :expiration',
          ConditionExpression:
            'attribute_not_exists(#calls) OR contains(#calls, :callId) OR size(#calls) < :limit',
          ExpressionAttributeNames: { '#calls': 'calls', '#expiration': 'expiration' },
          ExpressionAttributeValues: {
            ':call': { SS: [callId] },
            ':callId': { S: callId },
            ':limit': { N: String(limit) },
            ':expiration': { N: String(Math.ceil(((window + 2) * WINDOW_MS) / 1000)) },
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return { allowed: true, count: out.Attributes?.calls?.SS?.length ?? 1 };
    } catch (error) {
      if (isConditionFailed(error)) return { allowed: false, count: limit };
      throw error;
    }
  }
}
