import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlicloudCredentials } from '../../../functions/alicloud/clients.ts';
import { storeFromEnv, TablestoreIdempotencyStore } from '../../../functions/alicloud/tablestore.ts';
import { ConfigError, IdempotencyStoreError } from '../../../functions/core/errors.ts';
import type { Settled } from '../../../functions/core/idempotency.ts';
import {
  type RunningTablestore,
  startTablestore,
  TABLESTORE_CREDENTIALS,
} from '../../emulator/tablestore.ts';

const LIMITS = { ttlSeconds: 3600, lockSeconds: 900, observedAt: 0 };
const NOW = 1_800_000_000_000;

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

function store(overrides: Partial<ConstructorParameters<typeof TablestoreIdempotencyStore>[0]> = {}) {
  return new TablestoreIdempotencyStore({
    endpoint: ots.endpoint,
    instanceName: ots.instanceName,
    tableName: ots.tableName,
    credentials: () => TABLESTORE_CREDENTIALS,
    now: () => NOW,
    sleep: async () => {},
    ...overrides,
  });
}

/** Work that counts its runs and settles with `keep`. */
function counted(keep = true) {
  const work = async (): Promise<Settled<string>> => {
    work.runs += 1;
    return { value: 'done', keep };
  };
  work.runs = 0;
  return work;
}

describe('TablestoreIdempotencyStore through the Tablestore emulator', () => {
  it('runs the work on the first call and records the key as completed until now + ttl', async () => {
    // Prepare
    const work = counted();
    // Act
    const result = await store().run('k-first', LIMITS, work);
    // Assess
    expect(result).toEqual({ kind: 'ran', value: 'done' });
    expect(work.runs).toBe(1);
    expect(ots.rows().get('k-first')).toMatchObject({ status: 'completed', expiresAt: NOW + 3_600_000 });
    expect(ots.service.calls.map((c) => [c.action, c.status])).toEqual([
      ['PutRow', 200],
      ['UpdateRow', 200],
    ]);
  });

  it('answers a repeat with duplicate/completed without running the work', async () => {
    // Prepare
    await store().run('k-repeat', LIMITS, counted());
    const again = counted();
    // Act
    const result = await store().run('k-repeat', LIMITS, again);
    // Assess
    expect(result).toEqual({ kind: 'duplicate', state: 'completed' });
    expect(again.runs).toBe(0);
  });

  it('settles deliveries observed at or before the completed run began; a later one takes the row over', async () => {
    // Prepare: a run that began at NOW completed.
    await store().run('k-observed', { ...LIMITS, observedAt: NOW - 5_000 }, counted());
    const later = () => store({ now: () => NOW + 60_000 });
    const old = counted();
    const fresh = counted();
    // Act
    const redelivered = await later().run('k-observed', { ...LIMITS, observedAt: NOW }, old);
    const newWork = await later().run('k-observed', { ...LIMITS, observedAt: NOW + 1 }, fresh);
    // Assess
    expect(redelivered).toEqual({ kind: 'duplicate', state: 'completed' });
    expect(newWork).toEqual({ kind: 'ran', value: 'done' });
    expect([old.runs, fresh.runs]).toEqual([0, 1]);
    expect(ots.rows().get('k-observed')).toMatchObject({ status: 'completed', startedAt: NOW + 60_000 });
  });

  it('returns a failed completion beside the value (the work is done) with the OTS code', async () => {
    // Prepare
    ots.service.failNext('UpdateRow', { status: 503, code: 'OTSServerBusy', times: 10 });
    // Act
    const result = await store().run('k-unrecorded', LIMITS, counted());
    // Assess
    expect(result).toMatchObject({
      kind: 'ran',
      value: 'done',
      storeError: { step: 'complete', code: 'OTSServerBusy' },
    });
    // The lock was released instead, so the next delivery runs (and reads) rather than waiting.
    expect(ots.rows().has('k-unrecorded')).toBe(false);
  });

  it('runs the work exactly once among 20 concurrent calls on one key', async () => {
    // Prepare
    const work = counted();
    // Act
    const results = await Promise.all(Array.from({ length: 20 }, () => store().run('k-burst', LIMITS, work)));
    // Assess
    expect(work.runs).toBe(1);
    expect(results.filter((r) => r.kind === 'ran')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'duplicate')).toHaveLength(19);
  });

  it('runs 20 different keys 20 times', async () => {
    // Prepare
    const work = counted();
    // Act
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store().run(`k-${i}`, LIMITS, work)),
    );
    // Assess
    expect(work.runs).toBe(20);
    expect(results.every((r) => r.kind === 'ran')).toBe(true);
    expect([...ots.rows().values()].filter((row) => row.status === 'completed')).toHaveLength(20);
  });

  it('releases the lock when the work settles with keep:false, so the next call runs again', async () => {
    // Prepare
    const work = counted(false);
    await store().run('k-release', LIMITS, work);
    // Act
    const second = await store().run('k-release', LIMITS, work);
    // Assess
    expect(second.kind).toBe('ran');
    expect(work.runs).toBe(2);
    expect(ots.rows().has('k-release')).toBe(false);
  });

  it('releases the lock and rethrows when the work throws', async () => {
    // Prepare
    const boom = new Error('apply failed');
    const work = counted();
    // Act
    const first = store().run('k-throw', LIMITS, async () => Promise.reject(boom));
    // Assess
    await expect(first).rejects.toBe(boom);
    expect(ots.rows().has('k-throw')).toBe(false);
    expect((await store().run('k-throw', LIMITS, work)).kind).toBe('ran');
  });

  it('lets exactly one of two racers take over an expired record', async () => {
    // Prepare
    ots.seed('k-expired', { status: 'inProgress', expiresAt: NOW - 1, owner: 'crashed-run' });
    const work = counted();
    // Act
    const results = await Promise.all([
      store().run('k-expired', LIMITS, work),
      store().run('k-expired', LIMITS, work),
    ]);
    // Assess
    expect(work.runs).toBe(1);
    expect(results.map((r) => r.kind).sort()).toEqual(['duplicate', 'ran']);
    expect(ots.rows().get('k-expired')).toMatchObject({ status: 'completed', expiresAt: NOW + 3_600_000 });
    expect(ots.rows().get('k-expired')?.owner).not.toBe('crashed-run');
  });

  it('reports a live record held by another run as duplicate/inProgress', async () => {
    // Prepare
    ots.seed('k-held', { status: 'inProgress', expiresAt: NOW + 60_000, owner: 'other-run' });
    // Act
    const result = await store().run('k-held', LIMITS, counted());
    // Assess
    expect(result).toEqual({ kind: 'duplicate', state: 'inProgress' });
    expect(ots.rows().get('k-held')?.owner).toBe('other-run');
  });

  it('retries OTSServerBusy with full jitter and then succeeds', async () => {
    // Prepare
    const delays: number[] = [];
    ots.service.failNext('PutRow', { status: 503, code: 'OTSServerBusy', times: 2 });
    const s = store({ random: () => 0.5, sleep: async (ms) => void delays.push(ms) });
    // Act
    const result = await s.run('k-busy', LIMITS, counted());
    // Assess
    expect(result.kind).toBe('ran');
    expect(ots.service.count({ action: 'PutRow' })).toBe(3);
    expect(delays).toEqual([25, 50]);
  });

  it('gives up after maxAttempts and throws IdempotencyStoreError with the OTS code', async () => {
    // Prepare
    ots.service.failNext('PutRow', { status: 503, code: 'OTSServerBusy', times: 10 });
    const work = counted();
    // Act
    const run = store({ maxAttempts: 3 }).run('k-busy-long', LIMITS, work);
    // Assess
    await expect(run).rejects.toMatchObject({
      name: 'IdempotencyStoreError',
      step: 'claim',
      code: 'OTSServerBusy',
      status: 503,
    });
    await expect(run).rejects.toBeInstanceOf(IdempotencyStoreError);
    expect(ots.service.count({ action: 'PutRow' })).toBe(3);
    expect(work.runs).toBe(0);
  });

  it('surfaces a bad credential as IdempotencyStoreError carrying OTSAuthFailed, the status and the request id', async () => {
    // Prepare
    const wrong: AlicloudCredentials = { ...TABLESTORE_CREDENTIALS, accessKeySecret: 'not-the-secret' };
    const work = counted();
    // Act
    const run = store({ credentials: () => wrong }).run('k-denied', LIMITS, work);
    // Assess
    await expect(run).rejects.toBeInstanceOf(IdempotencyStoreError);
    await expect(run).rejects.toMatchObject({
      code: 'OTSAuthFailed',
      status: 403,
      requestId: expect.stringMatching(/^emu-/),
      message: expect.stringContaining('Signature mismatch.'),
    });
    expect(ots.service.calls).toMatchObject([{ action: 'PutRow', status: 403 }]);
    expect(work.runs).toBe(0);
  });

  it('surfaces a missing table as IdempotencyStoreError carrying OTSObjectNotExist', async () => {
    // Act
    const run = store({ tableName: 'no_such_table' }).run('k-table', LIMITS, counted());
    // Assess
    await expect(run).rejects.toBeInstanceOf(IdempotencyStoreError);
    await expect(run).rejects.toMatchObject({ code: 'OTSObjectNotExist', status: 404 });
  });

  it('signs with an STS token when the credentials carry one', async () => {
    // Prepare
    const sts = { ...TABLESTORE_CREDENTIALS, securityToken: 'sts-token-example' };
    const stsOts = await startTablestore({ credentials: sts });
    const base = {
      instanceName: stsOts.instanceName,
      tableName: stsOts.tableName,
      endpoint: stsOts.endpoint,
    };
    try {
      // Act
      const withToken = await store({ ...base, credentials: () => sts }).run('k-sts', LIMITS, counted());
      const without = store({ ...base, credentials: () => TABLESTORE_CREDENTIALS }).run(
        'k-sts2',
        LIMITS,
        counted(),
      );
      // Assess
      expect(withToken.kind).toBe('ran');
      await expect(without).rejects.toMatchObject({ code: 'OTSAuthFailed' });
    } finally {
      await stsOts.stop();
    }
  });
});

describe('storeFromEnv', () => {
  const credentials = () => TABLESTORE_CREDENTIALS;

  it('returns undefined when no ATREST_OTS_* variable is set', () => {
    expect(storeFromEnv({ ATREST_OTS_ENDPOINT: '' }, credentials)).toBeUndefined();
  });

  it('names every missing variable of a partial set', () => {
    // Act
    const call = () => storeFromEnv({ ATREST_OTS_INSTANCE: 'atrest-emu' }, credentials);
    // Assess
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(/ATREST_OTS_ENDPOINT: not set.*ATREST_OTS_TABLE: not set/);
  });

  it('rejects an endpoint that is not an http(s) URL', () => {
    const env = { ATREST_OTS_ENDPOINT: 'ftp://x.example', ATREST_OTS_INSTANCE: 'abc', ATREST_OTS_TABLE: 't' };
    expect(() => storeFromEnv(env, credentials)).toThrow(/ATREST_OTS_ENDPOINT/);
  });

  it('builds a working store when all three are set', async () => {
    // Prepare
    const env = {
      ATREST_OTS_ENDPOINT: ots.endpoint,
      ATREST_OTS_INSTANCE: ots.instanceName,
      ATREST_OTS_TABLE: ots.tableName,
    };
    // Act
    const s = storeFromEnv(env, credentials);
    const result = await s?.run('k-env', LIMITS, counted());
    // Assess
    expect(s).toBeInstanceOf(TablestoreIdempotencyStore);
    expect(result?.kind).toBe('ran');
    expect(ots.rows().get('k-env')?.status).toBe('completed');
  });
});
