import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config.ts';
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

  it('after a throttle, paces below the rate the API accepted, and waits for a token', async () => {
    // Prepare: 20 accepted calls 10 ms apart (95 calls/s by their spacing, 20 in one second).
    const { clock, limiter, calls } = limiterOnClock();
    await calls('write', 20, 10);

    // Act
    limiter.record('write', true);
    await limiter.acquire('write');

    // Assess: 0.85 of the 20 calls/s the API took in its busiest second.
    expect(limiter.stats('write').ceiling).toBe(20);
    expect(limiter.rate('write')).toBeCloseTo(0.85 * 20, 5);
    expect(clock.slept).toHaveLength(1);
    expect(clock.slept[0]).toBe(Math.ceil(1000 / limiter.rate('write')));
  });

  it('measures the ceiling from accepted calls only: refused ones do not raise it', async () => {
    // Prepare: 4 calls/s accepted for two seconds, with 20 refused calls in between.
    const { clock, limiter, calls } = limiterOnClock();
    await calls('write', 8, 250);
    for (let i = 0; i < 20; i++) limiter.record('write', true);

    // Assess: one cut, from the accepted rate; the throttles after it were of calls sent before it.
    expect(limiter.stats('write')).toMatchObject({ ceiling: 4, throttles: 20, cuts: 1 });
    expect(limiter.rate('write')).toBeCloseTo(0.85 * 4, 5);
    expect(clock.now).toBeGreaterThan(0);
  });

  it('re-measures a ceiling taken before the accepted answers of a burst came in', () => {
    // Prepare: a burst whose refusals are answered first (nothing accepted yet: the floor rate).
    const { clock, limiter } = limiterOnClock();
    limiter.record('write', true);
    expect(limiter.rate('write')).toBe(0.5);
    clock.now += 5;
    for (let i = 0; i < 10; i++) limiter.record('write', false);

    // Act: the first answer after the hold-off.
    clock.now += 1_000;
    limiter.record('write', false);

    // Assess: the 10 accepted in the second after the cut are the ceiling.
    expect(limiter.stats('write').ceiling).toBe(10);
    expect(limiter.rate('write')).toBeGreaterThan(5);
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

  it('never paces below the minimum rate, however many throttles come', () => {
    // Prepare
    const { limiter } = limiterOnClock();
    limiter.record('write', true);

    // Act
    for (let i = 0; i < 50; i++) limiter.record('write', true);

    // Assess
    expect(limiter.rate('write')).toBe(0.5);
  });

  it('climbs back to just below the ceiling, levels off, then probes beyond it', async () => {
    // Prepare: 10 calls/s accepted, then a throttle.
    const { clock, limiter, calls } = limiterOnClock();
    await calls('write', 20, 100);
    limiter.record('write', true);
    const { ceiling } = limiter.stats('write');
    const pace = (afterMs: number) => {
      for (let t = 0; t < afterMs; t += 100) {
        clock.now += 100;
        limiter.record('write', false);
      }
      return limiter.rate('write') / ceiling;
    };

    // Act: answers keep coming, 10 a second (the pace never grows past twice what is sent).
    const early = pace(1_000);
    const plateau = pace(7_000);
    const probe = pace(7_000);

    // Assess
    expect(ceiling).toBe(10);
    expect(early).toBeGreaterThan(0.85);
    expect(early).toBeLessThan(plateau);
    expect(plateau).toBeCloseTo(0.95, 1);
    expect(probe).toBeGreaterThan(1);
  });

  it('serves waiters in arrival order, live ones before background ones', async () => {
    // Prepare: paced at 0.5/s, four callers waiting.
    const { limiter } = limiterOnClock();
    limiter.record('write', true);
    const order: string[] = [];

    // Act
    await Promise.all([
      limiter.acquire('write', '', { background: true }).then(() => order.push('sweep')),
      limiter.acquire('write').then(() => order.push('live 1')),
      limiter.acquire('write').then(() => order.push('live 2')),
      limiter.acquire('write', '', { background: true }).then(() => order.push('sweep 2')),
    ]);

    // Assess
    expect(order).toEqual(['live 1', 'live 2', 'sweep', 'sweep 2']);
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
