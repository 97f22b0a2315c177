import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config.ts';
import { MemoryIdempotencyStore } from '../../functions/core/idempotency.ts';
import type { Remediator } from '../../functions/core/remediator.ts';
import { metered, sweepRegion, TokenBucket } from '../../functions/core/sweep.ts';
import {
  FakeCloud,
  type FakeResource,
  type FakeTarget,
  fakeRemediator,
  fault,
  sweepTarget,
  virtualClock,
} from './fake-remediator.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const config = parseConfig({ aws: { logGroupKms: { kmsKeyArn: KEY, exclude: ['^/skip/'] } } });
const fast = { sleep: async () => {}, random: () => 0.5 };

const target = sweepTarget;

/** The fake remediator with a scripted listing: `throwAfter` items, the listing throws `error` once. */
function listing(
  cloud: FakeCloud,
  names: string[],
  script: { throwAfter?: number; error?: Error; times?: number } = {},
): Remediator<FakeTarget, string, FakeResource> & { listings: number } {
  const base = fakeRemediator(cloud);
  let failures = script.times ?? (script.error ? 1 : 0);
  const r = {
    ...base,
    listings: 0,
    async *list() {
      r.listings += 1;
      for (const [i, name] of names.entries()) {
        if (script.error && failures > 0 && i === script.throwAfter) {
          failures -= 1;
          throw script.error;
        }
        yield target(name);
      }
    },
  };
  return r;
}

describe('TokenBucket', () => {
  it('paces takes at the rate after its burst', async () => {
    const { clock, now, sleep } = virtualClock();
    const bucket = new TokenBucket(5, { now, sleep });

    for (let i = 0; i < 11; i++) await bucket.take();

    // One token at start, then one every 200 ms: the 11th is taken at 2 s.
    expect(clock.t).toBe(2_000);
  });

  it('serves concurrent waiters in order without exceeding the rate', async () => {
    const { clock, now, sleep } = virtualClock();
    const bucket = new TokenBucket(10, { now, sleep });
    const order: number[] = [];

    await Promise.all([0, 1, 2, 3, 4].map((i) => bucket.take().then(() => order.push(i))));

    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(clock.t).toBe(400);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new TokenBucket(0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN)).toThrow(RangeError);
  });
});

describe('metered', () => {
  it('takes a token before every read and write, and nothing else', async () => {
    const cloud = new FakeCloud();
    cloud.resources.set('/app', {});
    const taken: string[] = [];
    const bucket = { take: async () => void taken.push('token') } as unknown as TokenBucket;
    const r = metered(fakeRemediator(cloud), bucket);

    await r.read(target('/app'));
    await r.apply(target('/app'), KEY, {});
    r.desire(target('/app'), config);

    expect(taken).toHaveLength(2);
    expect({ reads: cloud.reads, writes: cloud.writes }).toEqual({ reads: 1, writes: 1 });
  });
});

describe('sweepRegion', () => {
  it('remediates every listed resource once, with the right outcome each', async () => {
    const cloud = new FakeCloud();
    cloud.resources.set('/a', {});
    cloud.resources.set('/b', { key: KEY });
    cloud.resources.set('/skip/c', {});
    const seen: string[] = [];

    const result = await sweepRegion(listing(cloud, ['/a', '/b', '/skip/c']), 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: fast,
      onOutcome: (o) => seen.push(`${o.resource}:${o.outcome}`),
    });

    expect(result.complete).toBe(true);
    expect(result.listed).toBe(3);
    expect(seen.sort()).toEqual(['/a:applied', '/b:compliant', '/skip/c:excluded']);
    expect(cloud.writes).toBe(1);
  });

  it('never has more than `concurrency` resources in flight', async () => {
    const cloud = new FakeCloud();
    const names = Array.from({ length: 20 }, (_, i) => `/g${i}`);
    for (const n of names) cloud.resources.set(n, { key: KEY });
    const base = listing(cloud, names);
    let active = 0;
    let peak = 0;
    const slow = {
      ...base,
      async read(t: FakeTarget) {
        active += 1;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setImmediate(resolve));
        active -= 1;
        return base.read(t);
      },
    };

    const result = await sweepRegion(slow, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      concurrency: 3,
      engine: fast,
    });

    expect(result.outcomes).toHaveLength(20);
    expect(peak).toBe(3);
  });

  it('restarts a listing that was throttled, skipping what it already yielded', async () => {
    const cloud = new FakeCloud();
    const names = ['/a', '/b', '/c', '/d'];
    for (const n of names) cloud.resources.set(n, { key: KEY });
    const r = listing(cloud, names, { throwAfter: 2, error: fault.throttled() });

    const result = await sweepRegion(r, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: fast,
    });

    expect(r.listings).toBe(2);
    expect(result.complete).toBe(true);
    expect(result.outcomes.map((o) => o.resource).sort()).toEqual(names);
    expect(cloud.reads).toBe(4);
  });

  it('ends a listing that fails for good with one failed line naming the code', async () => {
    const cloud = new FakeCloud();
    cloud.resources.set('/a', { key: KEY });
    const r = listing(cloud, ['/a', '/b'], { throwAfter: 1, error: fault.denied() });

    const result = await sweepRegion(r, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: fast,
    });

    expect(result.complete).toBe(false);
    expect(result.outcomes).toHaveLength(2);
    expect(result.outcomes.at(-1)).toMatchObject({
      outcome: 'failed',
      resource: '',
      eventId: 'sweep:us-east-1',
      error: { code: 'AccessDeniedException', requestId: 'req-d' },
    });
    expect(result.outcomes.at(-1)?.error?.message).toMatch(/listing failed after 1 resource/);
  });

  it('stops starting resources when the time budget says so', async () => {
    const cloud = new FakeCloud();
    const names = Array.from({ length: 10 }, (_, i) => `/g${i}`);
    for (const n of names) cloud.resources.set(n, { key: KEY });
    let started = 0;

    const result = await sweepRegion(listing(cloud, names), 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: fast,
      concurrency: 1,
      outOfTime: () => started++ >= 4,
    });

    expect(result.complete).toBe(false);
    expect(result.outcomes).toHaveLength(4);
  });

  it('paces reads through the bucket it is given', async () => {
    const cloud = new FakeCloud();
    const names = Array.from({ length: 6 }, (_, i) => `/g${i}`);
    for (const n of names) cloud.resources.set(n, { key: KEY });
    const { clock, now, sleep } = virtualClock();

    await sweepRegion(listing(cloud, names), 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: fast,
      bucket: new TokenBucket(2, { now, sleep }),
    });

    // Six compliant resources = six reads at 2/s: the sixth read waits until 2.5 s.
    expect(cloud.reads).toBe(6);
    expect(clock.t).toBe(2_500);
  });
});
