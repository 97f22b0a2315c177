import { IdempotencyPersistenceLayerError } from '@aws-lambda-powertools/idempotency';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, IdempotencyStoreError } from '#core/errors';
import { mapStoreError, PowertoolsIdempotencyStore } from '../../../functions/aws/idempotency.ts';
import { DUMMY_CREDENTIALS } from '../../emulator/cloudwatch-logs.ts';
import { type RunningDynalite, startDynalite } from '../../emulator/dynalite.ts';

let db: RunningDynalite;
let store: PowertoolsIdempotencyStore;
const options = { ttlSeconds: 600, lockSeconds: 60, observedAt: 0 };

/** How many records Powertools keeps (each id is `atrest#<md5 of {"key": …}>`). */
const recordCount = async () =>
  (await db.client.send(new ScanCommand({ TableName: db.tableName, Select: 'COUNT' }))).Count ?? 0;

beforeAll(async () => {
  db = await startDynalite({ tableName: 'idempotency-port' });
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
  store = new PowertoolsIdempotencyStore({ env: { IDEMPOTENCY_TABLE_NAME: db.tableName } });
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await db.stop();
});

describe('PowertoolsIdempotencyStore (the idempotency port on Powertools + DynamoDB)', () => {
  it('runs new work and keeps a completed record', async () => {
    const work = vi.fn(async () => ({ value: 'done', keep: true }));

    const first = await store.run('k-complete', options, work);
    const second = await store.run('k-complete', options, work);

    expect(first).toEqual({ kind: 'ran', value: 'done' });
    expect(second).toEqual({ kind: 'duplicate', state: 'completed' });
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('answers duplicate/inProgress while another holder runs the same key', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const holder = store.run('k-held', options, async () => {
      started();
      await held;
      return { value: 1, keep: true };
    });
    await running;

    const contender = await store.run('k-held', options, async () => ({ value: 2, keep: true }));
    release();

    expect(contender).toEqual({ kind: 'duplicate', state: 'inProgress' });
    expect(await holder).toEqual({ kind: 'ran', value: 1 });
  });

  it('releases the record when the work does not settle (keep: false) and returns its value', async () => {
    const before = await recordCount();

    const first = await store.run('k-release', options, async () => ({ value: 'failed', keep: false }));
    const again = await store.run('k-release', options, async () => ({ value: 'applied', keep: true }));

    expect(first).toEqual({ kind: 'ran', value: 'failed' });
    expect(again).toEqual({ kind: 'ran', value: 'applied' });
    expect(await recordCount()).toBe(before + 1);
  });

  it('releases the record and passes the error on when the work throws', async () => {
    const boom = new Error('boom');

    const thrown = await store
      .run('k-throw', options, async () => Promise.reject(boom))
      .catch((e: unknown) => e);
    const after = await store.run('k-throw', options, async () => ({ value: 'ok', keep: true }));

    expect(thrown).toBe(boom);
    expect(after.kind).toBe('ran');
  });

  it('bounds the in-progress lock by lockSeconds and the record by ttlSeconds', async () => {
    const now = Date.now();
    let id = '';

    await store.run('k-expiry', { ttlSeconds: 120, lockSeconds: 60, observedAt: 0 }, async () => {
      const { Items } = await db.client.send(new ScanCommand({ TableName: db.tableName }));
      const row = Items?.find((r) => r.status?.S === 'INPROGRESS');
      id = row?.id?.S ?? '';
      expect(Number(row?.in_progress_expiration?.N)).toBeGreaterThanOrEqual(now + 60_000 - 1_000);
      expect(Number(row?.in_progress_expiration?.N)).toBeLessThanOrEqual(Date.now() + 60_000);
      return { value: 0, keep: true };
    });
    const { Item } = await db.client.send(
      new GetItemCommand({ TableName: db.tableName, Key: { id: { S: id } } }),
    );

    expect(id).toMatch(/^atrest#/);
    expect(Number(Item?.expiration?.N)).toBeGreaterThanOrEqual(Math.floor(now / 1000) + 119);
    expect(Number(Item?.expiration?.N)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 121);
  });

  it('maps the Powertools-wrapped SDK error to the store code, request id and step', () => {
    const sdk = Object.assign(new Error('User is not authorized to perform: dynamodb:DeleteItem'), {
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, requestId: 'REQ-DELETE-1' },
    });
    const wrapped = new IdempotencyPersistenceLayerError('Failed to delete record from idempotency store', {
      cause: sdk,
    });

    const error = mapStoreError('release', wrapped);

    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect(error).toMatchObject({
      step: 'release',
      code: 'AccessDeniedException',
      requestId: 'REQ-DELETE-1',
      status: 400,
    });
    expect(error.message).toContain('Failed to delete record from idempotency store');
    expect(error.message).toContain('not authorized');
  });

  it('settles an earlier-observed delivery with the completed record, and runs a later one again', async () => {
    const work = vi.fn(async () => ({ value: 'done', keep: true }));
    const at = Date.now();

    await store.run('k-observed', { ...options, observedAt: at - 10_000 }, work);
    const old = await store.run('k-observed', { ...options, observedAt: at - 10_000 }, work);
    const later = await store.run('k-observed', { ...options, observedAt: Date.now() + 1_000 }, work);
    const again = await store.run('k-observed', { ...options, observedAt: at - 10_000 }, work);

    expect(old).toEqual({ kind: 'duplicate', state: 'completed' });
    expect(later).toEqual({ kind: 'ran', value: 'done' });
    expect(again).toEqual({ kind: 'duplicate', state: 'completed' });
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('needs a table name', () => {
    expect(() => new PowertoolsIdempotencyStore({ env: {} })).toThrow(ConfigError);
    expect(() => new PowertoolsIdempotencyStore({ env: {} })).toThrow(/IDEMPOTENCY_TABLE_NAME/);
  });
});
