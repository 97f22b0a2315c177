import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IdempotencyStoreError } from '../../functions/core/errors.ts';
import {
  FileIdempotencyStore,
  type IdempotencyStore,
  idempotencyKey,
  MemoryIdempotencyStore,
  type Settled,
} from '../../functions/core/idempotency.ts';

const parts = {
  functionId: 'aws.log-group-kms',
  account: '111122223333',
  region: 'us-east-1',
  resource: '/app',
  desired: 'arn:aws:kms:us-east-1:111122223333:key/k',
};
const opts = { ttlSeconds: 60, lockSeconds: 30, observedAt: 0 };

describe('idempotencyKey', () => {
  it('is stable, hex, and changes with every part but never with the event', () => {
    const key = idempotencyKey(parts);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(idempotencyKey({ ...parts })).toBe(key);
    for (const field of ['functionId', 'account', 'region', 'resource', 'desired'] as const)
      expect(idempotencyKey({ ...parts, [field]: `${parts[field]}x` })).not.toBe(key);
  });

  it('does not collide when a separator moves between parts', () => {
    expect(idempotencyKey({ ...parts, account: 'a|b', region: 'c' })).not.toBe(
      idempotencyKey({ ...parts, account: 'a', region: 'b|c' }),
    );
  });
});

describe.each([
  ['memory', (now: () => number) => new MemoryIdempotencyStore(now)],
  [
    'file',
    (now: () => number) =>
      new FileIdempotencyStore(join(mkdtempSync(join(tmpdir(), 'atrest-')), 'idem'), now),
  ],
])('%s store', (_name, make: (now: () => number) => IdempotencyStore) => {
  it('runs once, then reports duplicate until the record expires', async () => {
    let now = 1_000_000;
    const store = make(() => now);
    let runs = 0;
    const work = async () => {
      runs += 1;
      return { value: runs, keep: true };
    };
    expect(await store.run('k', opts, work)).toEqual({ kind: 'ran', value: 1 });
    expect(await store.run('k', opts, work)).toEqual({ kind: 'duplicate', state: 'completed' });
    now += 61_000;
    expect(await store.run('k', opts, work)).toEqual({ kind: 'ran', value: 2 });
  });

  it('reports in-progress to a concurrent caller', async () => {
    const store = make(Date.now);
    let release: () => void = () => {};
    const first = store.run(
      'k',
      opts,
      () => new Promise<Settled<string>>((r) => (release = () => r({ value: 'a', keep: true }))),
    );
    expect(await store.run('k', opts, async () => ({ value: 'b', keep: true }))).toEqual({
      kind: 'duplicate',
      state: 'inProgress',
    });
    release();
    expect(await first).toEqual({ kind: 'ran', value: 'a' });
  });

  it('releases the lock when work is not kept or throws', async () => {
    const store = make(Date.now);
    expect(await store.run('k', opts, async () => ({ value: 1, keep: false }))).toEqual({
      kind: 'ran',
      value: 1,
    });
    await expect(
      store.run('k', opts, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.run('k', opts, async () => ({ value: 3, keep: true }))).toEqual({
      kind: 'ran',
      value: 3,
    });
  });

  it('frees a lock whose holder died once the lock expires', async () => {
    let now = 0;
    const store = make(() => now);
    void store.run('k', opts, () => new Promise<Settled<number>>(() => {})); // never settles
    expect((await store.run('k', opts, async () => ({ value: 1, keep: true }))).kind).toBe('duplicate');
    now += 31_000;
    expect(await store.run('k', opts, async () => ({ value: 2, keep: true }))).toEqual({
      kind: 'ran',
      value: 2,
    });
  });
});

describe('file store', () => {
  const folder = () => join(mkdtempSync(join(tmpdir(), 'atrest-')), 'idem');

  it('persists across instances (CLI runs), one small file per key', async () => {
    const path = folder();
    await new FileIdempotencyStore(path).run('k', opts, async () => ({ value: 1, keep: true }));
    expect(readdirSync(path)).toEqual(['k']);
    expect(readdirSync(join(path, 'k'))).toEqual(['1.json']);
    expect(JSON.parse(readFileSync(join(path, 'k', '1.json'), 'utf8'))).toMatchObject({
      status: 'completed',
      owner: { pid: process.pid },
    });
    expect(
      (await new FileIdempotencyStore(path).run('k', opts, async () => ({ value: 2, keep: true }))).kind,
    ).toBe('duplicate');
  });

  it('takes over at once a lock whose owner process is dead (a killed sweep), not one whose owner runs', async () => {
    const path = folder();
    const lock = (pid: number) => {
      mkdirSync(join(path, 'k'), { recursive: true });
      writeFileSync(
        join(path, 'k', '1.json'),
        JSON.stringify({
          status: 'inProgress',
          expiresAt: Date.now() + 3_600_000,
          startedAt: Date.now(),
          owner: { pid, host: hostname(), token: 't' },
        }),
      );
    };
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    const store = new FileIdempotencyStore(path);

    lock(process.ppid);
    const whileAlive = await store.run('k', opts, async () => ({ value: 1, keep: true }));
    lock(dead);
    const afterDeath = await store.run('k', opts, async () => ({ value: 2, keep: true }));

    expect(whileAlive).toEqual({ kind: 'duplicate', state: 'inProgress' });
    expect(afterDeath).toEqual({ kind: 'ran', value: 2 });
    expect(readdirSync(join(path, 'k'))).toEqual(['2.json']);
  });

  it('refuses an older single-file store at the path with a config error naming the variable', () => {
    const path = folder();
    writeFileSync(path, '{}');
    expect(() => new FileIdempotencyStore(path)).toThrow(/ATREST_IDEMPOTENCY_FILE/);
  });

  it('reports a store that cannot be written as IdempotencyStoreError with the system code', async () => {
    const path = folder();
    const store = new FileIdempotencyStore(path);
    writeFileSync(join(path, 'k'), 'not a folder');

    const error = await store.run('k', opts, async () => ({ value: 1, keep: true })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(IdempotencyStoreError);
    expect(error).toMatchObject({ step: 'claim', code: 'EEXIST' });
  });
});

describe.each([
  ['memory', (now: () => number) => new MemoryIdempotencyStore(now)],
  [
    'file',
    (now: () => number) =>
      new FileIdempotencyStore(join(mkdtempSync(join(tmpdir(), 'atrest-')), 'idem'), now),
  ],
])('%s store: what a completed record settles', (_name, make: (now: () => number) => IdempotencyStore) => {
  const T0 = Date.parse('2026-11-22T10:00:00Z');
  const work = (value: string) => async () => ({ value, keep: true });

  it('a delivery observed at or before the run began is a duplicate; one observed after it is new work', async () => {
    let now = T0;
    const store = make(() => now);
    await store.run('k', { ...opts, observedAt: T0 - 5_000 }, work('live event'));
    now += 10_000;

    const redelivered = await store.run('k', { ...opts, observedAt: T0 - 5_000 }, work('redelivery'));
    const sameInstant = await store.run('k', { ...opts, observedAt: T0 }, work('same instant'));
    const recreated = await store.run('k', { ...opts, observedAt: T0 + 1 }, work('re-created'));
    const again = await store.run('k', { ...opts, observedAt: T0 + 1 }, work('again'));

    expect(redelivered).toEqual({ kind: 'duplicate', state: 'completed' });
    expect(sameInstant).toEqual({ kind: 'duplicate', state: 'completed' });
    expect(recreated).toEqual({ kind: 'ran', value: 're-created' });
    expect(again).toEqual({ kind: 'duplicate', state: 'completed' });
  });

  it('a delivery observed later still waits for a run in progress (one writer per key)', async () => {
    let now = T0;
    const store = make(() => now);
    let finish: () => void = () => {};
    const held = store.run(
      'k',
      { ...opts, observedAt: T0 - 1 },
      () =>
        new Promise<Settled<string>>((resolve) => (finish = () => resolve({ value: 'first', keep: true }))),
    );
    now += 1_000;

    const later = await store.run('k', { ...opts, observedAt: T0 + 500 }, work('later'));
    finish();

    expect(later).toEqual({ kind: 'duplicate', state: 'inProgress' });
    expect(await held).toEqual({ kind: 'ran', value: 'first' });
  });
});
