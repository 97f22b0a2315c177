import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config.ts';
import { type EngineDeps, remediateEvent } from '../../functions/core/engine.ts';
import { IdempotencyStoreError } from '../../functions/core/errors.ts';
import { type IdempotencyStore, MemoryIdempotencyStore } from '../../functions/core/idempotency.ts';
import { isSettled, OUTCOMES, type Outcome } from '../../functions/core/outcome.ts';
import { FakeCloud, fakeRemediator, fault } from './fake-remediator.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER = 'arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab';
const config = parseConfig({ aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['^/skip/'] } } });

function setup(
  resources: Record<string, { key?: string; ready?: boolean; immutable?: boolean }> = { '/app': {} },
) {
  const cloud = new FakeCloud();
  for (const [name, r] of Object.entries(resources)) cloud.resources.set(name, { ...r });
  const store = new MemoryIdempotencyStore();
  const sleeps: number[] = [];
  const deps: EngineDeps = {
    config,
    store,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  };
  return { cloud, remediator: fakeRemediator(cloud), deps, store, sleeps };
}

const run = async (
  s: ReturnType<typeof setup>,
  event: unknown = { name: '/app', id: 'e1' },
  extra: Partial<EngineDeps> = {},
) => {
  const [outcome] = await remediateEvent(s.remediator, event, { ...s.deps, ...extra });
  if (!outcome) throw new Error('no outcome');
  return outcome;
};

describe('engine', () => {
  it('applies the key to a non-compliant resource: read, write, verify', async () => {
    const s = setup();
    const outcome = await run(s);
    expect(outcome).toMatchObject({
      outcome: 'applied',
      attempts: 1,
      resource: '/app',
      eventId: 'e1',
      dryRun: false,
    });
    expect(s.cloud.resources.get('/app')?.key).toBe(KEY);
    expect({ reads: s.cloud.reads, writes: s.cloud.writes }).toEqual({ reads: 2, writes: 1 });
  });

  it('reports compliant after one read and no write', async () => {
    const s = setup({ '/app': { key: KEY } });
    expect(await run(s)).toMatchObject({ outcome: 'compliant', attempts: 0 });
    expect({ reads: s.cloud.reads, writes: s.cloud.writes }).toEqual({ reads: 1, writes: 0 });
  });

  it('overrides a different key', async () => {
    const s = setup({ '/app': { key: OTHER } });
    expect((await run(s)).outcome).toBe('applied');
    expect(s.cloud.resources.get('/app')?.key).toBe(KEY);
  });

  it('excludes by config without any API call', async () => {
    const s = setup({ '/skip/me': {} });
    expect(await run(s, { name: '/skip/me' })).toMatchObject({ outcome: 'excluded', reason: 'pattern' });
    expect(s.cloud.reads).toBe(0);
  });

  it('ignores events of a function that is not configured', async () => {
    const s = setup();
    const [o] = await remediateEvent(s.remediator, { name: '/app' }, { ...s.deps, config: parseConfig({}) });
    expect(o).toMatchObject({ outcome: 'ignored', reason: 'aws.log-group-kms is not configured' });
    expect(s.cloud.reads).toBe(0);
  });

  it('passes through ignored and rejected parse results', async () => {
    const s = setup();
    expect((await run(s, { ignore: true, id: 'x' })).outcome).toBe('ignored');
    const rejected = await run(s, { name: 42 });
    expect(rejected).toMatchObject({
      outcome: 'rejected',
      error: { code: 'InvalidEvent', message: 'name: expected string' },
    });
    expect(s.cloud.reads).toBe(0);
  });

  it('answers a parser that throws with rejected instead of crashing', async () => {
    const s = setup();
    s.remediator.parse = () => {
      throw new Error('bug');
    };
    expect(await run(s)).toMatchObject({ outcome: 'rejected', error: { code: 'InvalidEvent' } });
  });

  it('reports gone when the resource disappeared before the read', async () => {
    const s = setup({});
    expect((await run(s)).outcome).toBe('gone');
  });

  it('reports gone when the resource disappeared between read and write', async () => {
    const s = setup();
    s.cloud.writeFailures.push(fault.gone());
    expect(await run(s)).toMatchObject({ outcome: 'gone', attempts: 1 });
  });

  it('defers a resource that is not ready, without writing', async () => {
    const s = setup({ '/app': { ready: false } });
    expect(await run(s)).toMatchObject({ outcome: 'deferred', reason: 'still creating' });
    expect(s.cloud.writes).toBe(0);
  });

  it('defers when the write says not ready (e.g. HTTP 409 busy)', async () => {
    const s = setup();
    s.cloud.writeFailures.push(fault.notReady());
    expect(await run(s)).toMatchObject({ outcome: 'deferred', attempts: 1 });
  });

  it('retries conflicts after re-reading state: two conflicts then success', async () => {
    const s = setup();
    s.cloud.writeFailures.push(fault.conflict(), fault.conflict());
    const outcome = await run(s);
    expect(outcome).toMatchObject({ outcome: 'applied', attempts: 3 });
    expect(s.cloud.reads).toBe(4); // first read, one re-read per conflict, verify
    expect(s.sleeps).toHaveLength(2);
  });

  it('stops after a conflict when the re-read shows someone else applied the key', async () => {
    const s = setup();
    s.cloud.writeFailures.push(fault.conflict());
    const original = s.remediator.apply;
    s.remediator.apply = async (t, d, st) => {
      s.cloud.resources.set('/app', { key: KEY }); // the concurrent writer wins
      return original(t, d, st);
    };
    expect(await run(s)).toMatchObject({ outcome: 'compliant', attempts: 1 });
  });

  it('retries throttling and 5xx on writes and reads', async () => {
    const s = setup();
    s.cloud.readFailures.push(fault.throttled());
    s.cloud.writeFailures.push(fault.transient(), fault.throttled());
    expect(await run(s)).toMatchObject({ outcome: 'applied', attempts: 3 });
  });

  it('fails at once on a permission error, with the service code and request id, one write', async () => {
    const s = setup();
    s.cloud.writeFailures.push(fault.denied());
    const outcome = await run(s);
    expect(outcome).toMatchObject({
      outcome: 'failed',
      attempts: 1,
      error: { code: 'AccessDeniedException', requestId: 'req-d' },
    });
    expect(s.cloud.writes).toBe(1);
    expect(s.sleeps).toHaveLength(0);
  });

  it('fails when conflicts outlast the retry budget', async () => {
    const s = setup();
    for (let i = 0; i < 20; i++) s.cloud.writeFailures.push(fault.conflict());
    const outcome = await run(s, undefined, {
      config: parseConfig({ ...config, retry: { maxAttempts: 3 } }),
    });
    expect(outcome).toMatchObject({
      outcome: 'failed',
      attempts: 3,
      error: { code: 'OperationAbortedException' },
    });
    expect(outcome.error?.message).toContain('retries exhausted');
  });

  it('does not retry when the remaining invocation time cannot fit the backoff', async () => {
    const s = setup();
    s.cloud.writeFailures.push(fault.throttled());
    const outcome = await run(s, undefined, { remainingMs: () => 1000 });
    expect(outcome).toMatchObject({ outcome: 'failed', attempts: 1, error: { code: 'ThrottlingException' } });
  });

  it('fails an immutable setting without writing', async () => {
    const s = setup({ '/app': { key: OTHER, immutable: true } });
    expect(await run(s)).toMatchObject({ outcome: 'failed', error: { code: 'EncryptionImmutable' } });
    expect(s.cloud.writes).toBe(0);
  });

  it('tolerates a read-back that lags once (eventual consistency)', async () => {
    const s = setup();
    const apply = s.remediator.apply;
    s.remediator.apply = async (...args) => {
      await apply(...args);
      s.cloud.lagReads = 1;
    };
    expect(await run(s)).toMatchObject({ outcome: 'applied', attempts: 1 });
    expect(s.cloud.reads).toBe(3);
  });

  it('defers when the read-back never shows the write within the verify reads', async () => {
    const s = setup();
    const apply = s.remediator.apply;
    s.remediator.apply = async (...args) => {
      await apply(...args);
      s.cloud.lagReads = 100;
    };
    expect(await run(s, undefined, { verifyReads: 2 })).toMatchObject({ outcome: 'deferred', attempts: 1 });
    expect(s.cloud.reads).toBe(1 + 3);
  });

  it('turns duplicate deliveries into one write', async () => {
    const s = setup();
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await run(s, { name: '/app', id: `e${i}` }));
    expect(outcomes.map((o) => o.outcome)).toEqual([
      'applied',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    expect(s.cloud.writes).toBe(1);
  });

  it('turns concurrent deliveries into one write', async () => {
    const s = setup();
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => run(s, { name: '/app', id: `e${i}` })),
    );
    expect(outcomes.filter((o) => o.outcome === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'duplicate')).toHaveLength(9);
    expect(s.cloud.writes).toBe(1);
  });

  it('releases the record after a failure so the next delivery tries again', async () => {
    const s = setup();
    s.cloud.writeFailures.push(fault.denied());
    expect((await run(s)).outcome).toBe('failed');
    expect((await run(s)).outcome).toBe('applied');
    expect(s.cloud.writes).toBe(2);
  });

  it('force bypasses the idempotency record', async () => {
    const s = setup();
    await run(s);
    const forced = await run(s, undefined, { force: true });
    expect(forced.outcome).toBe('compliant');
    expect(s.store.size).toBe(1);
  });

  it('dry run reads and decides but writes nothing, not even the idempotency record', async () => {
    const s = setup();
    const outcome = await run(s, undefined, { dryRun: true });
    expect(outcome).toMatchObject({ outcome: 'applied', dryRun: true, attempts: 0 });
    expect(s.cloud.writes).toBe(0);
    expect(s.store.size).toBe(0);
    expect(s.cloud.resources.get('/app')?.key).toBeUndefined();
  });

  it('reports a failing idempotency store as failed, not as a crash', async () => {
    const s = setup();
    const outcome = await run(s, undefined, {
      store: {
        run: async () => {
          throw Object.assign(new Error('table missing'), { name: 'ResourceNotFoundException' });
        },
      },
    });
    expect(outcome).toMatchObject({ outcome: 'failed', error: { code: 'ResourceNotFoundException' } });
  });

  it('a delivery observed after the completed run began is new work: one read, no write', async () => {
    const s = setup();
    let now = Date.parse('2026-11-22T10:00:02Z');
    const store = new MemoryIdempotencyStore(() => now);
    const first = await run(s, { name: '/app', time: '2026-11-22T10:00:00Z' }, { store });
    now += 60_000;
    const redelivered = await run(s, { name: '/app', time: '2026-11-22T10:00:00Z' }, { store });
    const later = await run(s, { name: '/app', time: '2026-11-22T10:00:30Z' }, { store });

    expect([first.outcome, redelivered.outcome, later.outcome]).toEqual([
      'applied',
      'duplicate',
      'compliant',
    ]);
    expect(redelivered.settled).toBe(true);
    expect(s.cloud.writes).toBe(1);
  });

  it('marks a duplicate of work in progress as not settled', async () => {
    const s = setup();
    const [a, b] = await Promise.all([run(s), run(s)]);
    const duplicate = [a, b].find((o) => o?.outcome === 'duplicate');

    expect(duplicate).toMatchObject({ reason: 'idempotency record inProgress', settled: false });
    expect(isSettled(duplicate as Outcome)).toBe(false);
  });

  it('claims with the lock the platform gives (one invocation), 900 s by default', async () => {
    const s = setup({ '/a': {}, '/b': {} });
    const locks: number[] = [];
    const store: IdempotencyStore = {
      run: (key, options, work) => {
        locks.push(options.lockSeconds);
        return s.store.run(key, options, work);
      },
    };
    await run(s, { name: '/a' }, { store, lockSeconds: 60 });
    await run(s, { name: '/b' }, { store });

    expect(locks).toEqual([60, 900]);
  });

  it('written but not recorded is applied with a warning naming the store code and request id', async () => {
    const s = setup();
    const store: IdempotencyStore = {
      run: async (_key, _options, work) => ({
        kind: 'ran',
        value: (await work()).value,
        storeError: new IdempotencyStoreError('complete', 'idempotency store (complete): busy', {
          code: 'OTSServerBusy',
          requestId: 'ots-req-1',
        }),
      }),
    };
    const outcome = await run(s, undefined, { store, lockSeconds: 60 });

    expect(outcome.outcome).toBe('applied');
    expect(outcome.reason).toContain(
      'warning: done, but the idempotency record could not be completed (OTSServerBusy, request id ots-req-1)',
    );
    expect(isSettled(outcome)).toBe(true);
  });

  it('a deferral whose lock could not be released fails with the store code (the key stays locked)', async () => {
    const s = setup({ '/app': { ready: false } });
    const store: IdempotencyStore = {
      run: async (_key, _options, work) => ({
        kind: 'ran',
        value: (await work()).value,
        storeError: new IdempotencyStoreError('release', 'idempotency store (release): busy', {
          code: 'OTSServerBusy',
        }),
      }),
    };
    const outcome = await run(s, undefined, { store, lockSeconds: 60 });

    expect(outcome).toMatchObject({ outcome: 'failed', error: { code: 'OTSServerBusy' } });
    expect(outcome.error?.message).toContain('the work ended deferred');
    expect(outcome.error?.message).toContain('a retry in the next 60 s finds it in progress');
  });

  it('keeps the store code and request id of a failed claim', async () => {
    const s = setup();
    const outcome = await run(s, undefined, {
      store: {
        run: async () => {
          throw new IdempotencyStoreError('claim', 'idempotency store (claim): throttled', {
            code: 'ProvisionedThroughputExceededException',
            requestId: 'ddb-req-9',
          });
        },
      },
    });
    expect(outcome).toMatchObject({
      outcome: 'failed',
      error: { code: 'ProvisionedThroughputExceededException', requestId: 'ddb-req-9' },
    });
  });

  it('only ever produces contract outcomes, with the contract fields', async () => {
    const s = setup();
    const outcome = await run(s);
    expect(OUTCOMES).toContain(outcome.outcome);
    expect(Object.keys(outcome).sort()).toEqual(
      [
        'account',
        'attempts',
        'dryRun',
        'durationMs',
        'eventId',
        'function',
        'outcome',
        'region',
        'resource',
      ].sort(),
    );
  });
});
