import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { restoresFromEnv, TablestoreRestoreCounter } from '../../../functions/alicloud/restores.ts';
import { WINDOW_MS } from '../../../functions/core/restores.ts';
import {
  type RunningTablestore,
  startTablestore,
  TABLESTORE_CREDENTIALS,
} from '../../emulator/tablestore.ts';

const T = 1_800_000_000_000;
let ots: RunningTablestore;

beforeAll(async () => {
  ots = await startTablestore();
});
afterAll(async () => {
  await ots.stop();
});
beforeEach(() => {
  ots.rows().clear();
  ots.service.resetLog();
  ots.service.clearFaults();
});

const counter = () =>
  new TablestoreRestoreCounter({
    endpoint: ots.endpoint,
    instanceName: ots.instanceName,
    tableName: ots.tableName,
    credentials: () => TABLESTORE_CREDENTIALS,
    sleep: async () => {},
  });

describe('TablestoreRestoreCounter (the restore counter on the idempotency table)', () => {
  it('counts up to the limit with conditional writes, then refuses without writing', async () => {
    const c = counter();
    const takes = [];
    for (let i = 0; i < 4; i++) takes.push(await c.take('k', `call-${i}`, 3, T));
    expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
    expect(takes[3]).toEqual({ allowed: false, count: 3 });
    // put, update, update; the refusal only reads
    expect(ots.service.calls.map((call) => call.action)).toEqual([
      'GetRow',
      'PutRow',
      'GetRow',
      'UpdateRow',
      'GetRow',
      'UpdateRow',
      'GetRow',
    ]);
  });

  it('never counts past the limit when two instances race', async () => {
    const takes = await Promise.all([1, 2, 3, 4, 5].map((n) => counter().take('k-race', `call-${n}`, 3, T)));
    expect(takes.filter((t) => t.allowed)).toHaveLength(3);
  });

  it('starts over in the next clock hour', async () => {
    const c = counter();
    await c.take('k', 'a', 1, T);
    expect(await c.take('k', 'b', 1, T)).toMatchObject({ allowed: false });
    expect(await c.take('k', 'b', 1, T + WINDOW_MS)).toMatchObject({ allowed: true });
  });

  it('counts a retried tamper once, without writing again', async () => {
    const c = counter();
    await c.take('k', 'a', 1, T);
    ots.service.resetLog();
    expect(await c.take('k', 'a', 1, T)).toEqual({ allowed: true, count: 1 });
    expect(ots.service.calls.map((call) => call.action)).toEqual(['GetRow']);
  });

  it('reports a denial with the service code', async () => {
    ots.service.failNext('GetRow', { status: 403, code: 'OTSAuthFailed', times: 1 });
    await expect(counter().take('k', 'a', 3, T)).rejects.toMatchObject({ code: 'OTSAuthFailed' });
  });

  it('is built from the idempotency store variables, or not at all', () => {
    const env = {
      ATREST_OTS_ENDPOINT: ots.endpoint,
      ATREST_OTS_INSTANCE: ots.instanceName,
      ATREST_OTS_TABLE: ots.tableName,
    };
    expect(restoresFromEnv(env, () => TABLESTORE_CREDENTIALS)).toBeInstanceOf(TablestoreRestoreCounter);
    expect(restoresFromEnv({}, () => TABLESTORE_CREDENTIALS)).toBeUndefined();
  });
});
