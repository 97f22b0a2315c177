import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '#core/errors';
import { WINDOW_MS, windowOf } from '#core/restores';
import { DynamoRestoreCounter, RESTORE_ID_PREFIX } from '../../../functions/aws/restores.ts';
import { DUMMY_CREDENTIALS } from '../../emulator/cloudwatch-logs.ts';
import { type RunningDynalite, startDynalite } from '../../emulator/dynalite.ts';

const T = 1_800_000_000_000;
let db: RunningDynalite;
let counter: DynamoRestoreCounter;

beforeAll(async () => {
  db = await startDynalite({ tableName: 'restores-port' });
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
  counter = new DynamoRestoreCounter({ env: { IDEMPOTENCY_TABLE_NAME: db.tableName } });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await db.stop();
});

describe('DynamoRestoreCounter (the restore counter on the idempotency table)', () => {
  it('counts atomically up to the limit, then refuses without raising', async () => {
    // Act: five concurrent takes (two instances racing) against a limit of three
    const takes = await Promise.all([1, 2, 3, 4, 5].map((n) => counter.take('k-race', `call-${n}`, 3, T)));

    // Assess
    expect(takes.filter((t) => t.allowed)).toHaveLength(3);
    expect(takes.filter((t) => !t.allowed)).toEqual([
      { allowed: false, count: 3 },
      { allowed: false, count: 3 },
    ]);
    const item = await db.client.send(
      new GetItemCommand({
        TableName: db.tableName,
        Key: { id: { S: `${RESTORE_ID_PREFIX}k-race#${windowOf(T)}` } },
      }),
    );
    expect(item.Item?.calls?.SS).toHaveLength(3);
    // The table's TTL removes the row an hour after its window ends.
    expect(Number(item.Item?.expiration?.N)).toBe(((windowOf(T) + 2) * WINDOW_MS) / 1000);
  });

  it('starts over in the next clock hour', async () => {
    expect(await counter.take('k-hour', 'a', 1, T)).toEqual({ allowed: true, count: 1 });
    expect(await counter.take('k-hour', 'b', 1, T)).toEqual({ allowed: false, count: 1 });
    expect(await counter.take('k-hour', 'b', 1, T + WINDOW_MS)).toEqual({ allowed: true, count: 1 });
  });

  it('counts a retried tamper once', async () => {
    expect(await counter.take('k-retry', 'a', 1, T)).toEqual({ allowed: true, count: 1 });
    expect(await counter.take('k-retry', 'a', 1, T)).toEqual({ allowed: true, count: 1 });
    expect(await counter.take('k-retry', 'b', 1, T)).toMatchObject({ allowed: false });
  });

  it('fails with the service error when the table is missing', async () => {
    const missing = new DynamoRestoreCounter({ tableName: 'no-such-table' });
    await expect(missing.take('k', 'a', 3, T)).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('needs a table name', () => {
    expect(() => new DynamoRestoreCounter({ env: {} })).toThrow(ConfigError);
  });
});
