/**
 * The sweep cursor (core/sweep-cursor.ts) in the idempotency table: one item per (function,
 * region) under the key `atrest-sweep-cursor#…`, which no Powertools record can have (those are
 * `<function name>#<hash>`). Plain GetItem / PutItem / DeleteItem — the calls the function's role
 * already has on that table — with `expiration` set so DynamoDB's TTL removes a forgotten cursor.
 */
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CURSOR_TTL_SECONDS, type SweepCursorStore } from '#core/sweep-cursor';
import { boundedDynamoClient } from './dynamo.ts';

export interface DynamoDbSweepCursorOptions {
  tableName: string;
  /** Default: a bounded client of its own (5 s deadline, one try). */
  client?: DynamoDBClient;
  /** Clock for the expiry. Default Date.now. */
  now?: () => number;
}

export class DynamoDbSweepCursorStore implements SweepCursorStore {
  private client?: DynamoDBClient;

  constructor(private readonly options: DynamoDbSweepCursorOptions) {}

  async get(key: string): Promise<string | undefined> {
    const out = await this.dynamo().send(
      new GetItemCommand({
        TableName: this.options.tableName,
        Key: { id: { S: key } },
        ConsistentRead: true,
      }),
    );
    const cursor = out.Item?.cursor?.S;
    const expiration = Number(out.Item?.expiration?.N ?? 0);
    // TTL deletion lags by up to days: an expired item is no cursor.
    return cursor !== undefined && expiration * 1000 > this.now() ? cursor : undefined;
  }

  async set(key: string, cursor: string | undefined): Promise<void> {
    if (cursor === undefined) {
      await this.dynamo().send(
        new DeleteItemCommand({ TableName: this.options.tableName, Key: { id: { S: key } } }),
      );
      return;
    }
    const expiration = Math.floor(this.now() / 1000) + CURSOR_TTL_SECONDS;
    await this.dynamo().send(
      new PutItemCommand({
        TableName: this.options.tableName,
        Item: { id: { S: key }, cursor: { S: cursor }, expiration: { N: String(expiration) } },
      }),
    );
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private dynamo(): DynamoDBClient {
    this.client ??= this.options.client ?? boundedDynamoClient(1);
    return this.client;
  }
}
