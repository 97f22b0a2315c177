/**
 * What the idempotency store (./idempotency.ts) and the restore counter (./restores.ts) share on
 * the one DynamoDB table: its name, and a client bounded in time and body size. Endpoint only
 * through the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '#core/errors';
import { boundedClient } from './http.ts';

/** The table: the option, else `$IDEMPOTENCY_TABLE_NAME` (`env`, default `process.env`). */
export function idempotencyTableName(
  options: { tableName?: string; env?: Record<string, string | undefined> },
  /** What the table is for, in the start-up error when it is not set. */
  purpose: string,
): string {
  const tableName = options.tableName ?? (options.env ?? process.env).IDEMPOTENCY_TABLE_NAME;
  if (tableName === undefined || tableName.trim() === '')
    throw new ConfigError([`IDEMPOTENCY_TABLE_NAME: not set (${purpose})`]);
  return tableName;
}

/**
 * A DynamoDB client with the default credential chain, `maxAttempts` tries per call, and
 * (`bounded`, ./http.ts) a 5 s deadline on the whole exchange, body included, and a 1 MiB body cap.
 */
export function boundedDynamoClient(maxAttempts: number): DynamoDBClient {
  return boundedClient({ deadlineMs: 5_000, maxAttempts }, (settings) => new DynamoDBClient(settings));
}
