import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
const opts = { ttlSeconds: 60, lockSeconds: 30 };

describe('idempotencyKey', () => {
  it('is stable, hex, and changes with every part but never with the event', () => {
    const key = idempotencyKey(parts);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(idempotencyKey({ ...parts })).toBe(key);
    for (const field of ['functionId', 'account', 'region', 'resource', 'desired'] as const)
      expect(idempotencyKey({ ...parts, [field]: `${parts[field]}x` })).not.toBe(key);
    expect(idempotencyKey({ ...parts, revision: 'r1' })).not.toBe(key);
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
      new FileIdempotencyStore(join(mkdtempSync(join(tmpdir(), 'atrest-')), 'idem.json'), now),
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
  it('persists across instances (CLI runs)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'atrest-')), 'idem.json');
    await new FileIdempotencyStore(path).run('k', opts, async () => ({ value: 1, keep: true }));
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')))).toEqual(['k']);
    expect(
      (await new FileIdempotencyStore(path).run('k', opts, async () => ({ value: 2, keep: true }))).kind,
    ).toBe('duplicate');
  });
});
