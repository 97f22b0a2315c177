import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config.ts';
import { remediateEvent } from '../../functions/core/engine.ts';
import { MemoryIdempotencyStore } from '../../functions/core/idempotency.ts';
import { AdaptiveRateLimiter, type CallKind, withRateLimit } from '../../functions/core/ratelimit.ts';
import { FakeCloud, fakeRemediator, fault } from './fake-remediator.ts';

/** A limiter on a hand-driven clock; sleeping advances the clock and is recorded. */
function limiterOnClock(start = 1_000_000) {
  const clock = { now: start, slept: [] as number[] };
  const limiter = new AdaptiveRateLimiter({
    now: () => clock.now,
    sleep: async (ms) => {
      clock.slept.push(ms);
      clock.now += ms;
    },
  });
  /** `n` calls of `kind`, `gapMs` apart, all answered normally. */
  const calls = async (kind: CallKind, n: number, gapMs: number) => {
    for (let i = 0; i < n; i++) {
      await limiter.acquire(kind);
      limiter.record(kind, false);
      clock.now += gapMs;
    }
  };
  return { clock, limiter, calls };
}

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('AdaptiveRateLimiter', () => {
  it('never slows an instance that is never throttled', async () => {
    // Prepare
    const { clock, limiter, calls } = limiterOnClock();

    // Act
    await calls('write', 500, 1);

    // Assess
    expect(clock.slept).toEqual([]);
    expect(limiter.rate('write')).toBe(Number.POSITIVE_INFINITY);
  });

  it('after a throttle, paces at 0.7 of the rate it was really sending, and waits for a token', async () => {
    // Prepare: 20 calls 10 ms apart; with the throttled one, 21 calls in 200 ms = 105 calls/s.
    const { clock, limiter, calls } = limiterOnClock();
    await calls('write', 20, 10);

    // Act
    limiter.record('write', true);
    await limiter.acquire('write');

    // Assess
    expect(limiter.rate('write')).toBeCloseTo(0.7 * 105, 5);
    expect(clock.slept).toHaveLength(1);
    expect(clock.slept[0]).toBe(Math.ceil(1000 / limiter.rate('write')));
  });

  it('limits reads and writes separately', async () => {
    // Prepare
    const { clock, limiter, calls } = limiterOnClock();
    await calls('write', 20, 10);

    // Act
    limiter.record('write', true);
    await calls('read', 50, 1);

    // Assess
    expect(limiter.rate('read')).toBe(Number.POSITIVE_INFINITY);
    expect(clock.slept).toEqual([]);
  });

  it('cuts again on every further throttle, never below the minimum rate', () => {
    // Prepare
    const { limiter } = limiterOnClock();
    limiter.record('write', true);

    // Act
    for (let i = 0; i < 50; i++) limiter.record('write', true);

    // Assess
    expect(limiter.rate('write')).toBe(0.5);
  });

  it('grows back along the cubic curve towards the rate last throttled', async () => {
    // Prepare: 10 calls 100 ms apart, then a throttle. Half-second buckets measure 12 then 10
    // calls/s, smoothed 0.8 · 10 + 0.2 · 12 = 10.4 calls/s.
    const { clock, limiter, calls } = limiterOnClock();
    await calls('write', 10, 100);
    limiter.record('write', true);
    const cut = limiter.rate('write');

    // Act
    await calls('write', 40, 0);

    // Assess: back above the cut, and never above twice what was really sent.
    expect(cut).toBeCloseTo(0.7 * 10.4, 5);
    expect(limiter.rate('write')).toBeGreaterThan(cut);
    expect(clock.slept.length).toBeGreaterThan(0);
  });
});

describe('withRateLimit', () => {
  const config = parseConfig({ aws: { logGroupKms: { kmsKeyArn: KEY } } });

  it('passes reads and writes through and keeps the remediator otherwise unchanged', async () => {
    // Prepare
    const cloud = new FakeCloud();
    cloud.resources.set('g1', {});
    const inner = fakeRemediator(cloud);
    const kinds: string[] = [];
    const limited = withRateLimit(inner, {
      acquire: async (kind) => {
        kinds.push(`acquire ${kind}`);
      },
      record: (kind, throttled) => kinds.push(`${kind} ${throttled ? 'throttled' : 'ok'}`),
    });

    // Act
    const [outcome] = await remediateEvent(
      limited,
      { name: 'g1', id: 'e1' },
      {
        config,
        store: new MemoryIdempotencyStore(),
        sleep: async () => {},
      },
    );

    // Assess
    expect(outcome?.outcome).toBe('applied');
    expect(limited.id).toBe(inner.id);
    expect(limited.parse).toBe(inner.parse);
    expect(kinds).toEqual([
      'acquire read',
      'read ok',
      'acquire write',
      'write ok',
      'acquire read',
      'read ok',
    ]);
  });

  it('records a throttled write as throttled and other failures as not, and rethrows both', async () => {
    // Prepare
    const cloud = new FakeCloud();
    cloud.resources.set('g2', {});
    cloud.writeFailures.push(fault.throttled(), fault.transient());
    const records: string[] = [];
    const limited = withRateLimit(fakeRemediator(cloud), {
      acquire: async () => {},
      record: (kind, throttled) => records.push(`${kind} ${throttled}`),
    });

    // Act
    const [outcome] = await remediateEvent(
      limited,
      { name: 'g2', id: 'e2' },
      { config, store: new MemoryIdempotencyStore(), sleep: async () => {} },
    );

    // Assess: the engine still saw both failures (two retries), then applied.
    expect(outcome).toMatchObject({ outcome: 'applied', attempts: 3 });
    expect(records.filter((r) => r.startsWith('write'))).toEqual([
      'write true',
      'write false',
      'write false',
    ]);
  });
});
