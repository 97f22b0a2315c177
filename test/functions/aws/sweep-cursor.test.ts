/**
 * The scheduled sweep's cursor on AWS: one item in the idempotency table (dynalite), beside the
 * Powertools records, under a key of its own, with the table's TTL attribute set.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sweepCursorKey } from '#core/sweep-cursor';
import { DynamoDbSweepCursorStore } from '../../../functions/aws/sweep-cursor.ts';
import { DUMMY_CREDENTIALS } from '../../emulator/cloudwatch-logs.ts';
import { type RunningDynalite, startDynalite } from '../../emulator/dynalite.ts';

const NOW = Date.parse('2026-11-22T03:00:00Z');
let db: RunningDynalite;

beforeAll(async () => {
  db = await startDynalite({ tableName: 'sweep-cursor' });
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await db.stop();
});

describe('DynamoDbSweepCursorStore', () => {
  const key = sweepCursorKey('aws.log-group-kms', 'us-east-1');

  it('keeps a cursor with an expiry, returns it, and forgets it', async () => {
    const store = new DynamoDbSweepCursorStore({ tableName: db.tableName, now: () => NOW });

    await store.set(key, 'token-page-3');
    const item = await db.client.send(
      new GetItemCommand({ TableName: db.tableName, Key: { id: { S: key } } }),
    );
    const kept = await store.get(key);
    await store.set(key, undefined);

    expect(kept).toBe('token-page-3');
    expect(Number(item.Item?.expiration?.N)).toBe(NOW / 1000 + 3 * 86_400);
    expect(await store.get(key)).toBeUndefined();
  });

  it('does not resume from an item past its expiry that TTL has not removed yet', async () => {
    await new DynamoDbSweepCursorStore({ tableName: db.tableName, now: () => NOW }).set(key, 'old');

    const later = new DynamoDbSweepCursorStore({ tableName: db.tableName, now: () => NOW + 4 * 86_400_000 });

    expect(await later.get(key)).toBeUndefined();
  });
});
