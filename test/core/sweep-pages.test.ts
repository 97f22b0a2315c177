/**
 * Paged listings in a sweep: each page paced like any call, a throttled page retried alone under
 * the retry policy (not three quick restarts of the whole listing), and a sweep that runs out of
 * time leaving a cursor the next run resumes from. Unit level, with the fake remediator and a
 * virtual clock; the deployed measure is test/functions/aws/log-group-kms/sweep-resume.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config.ts';
import { InvalidError, type RemediationError } from '../../functions/core/errors.ts';
import { MemoryIdempotencyStore } from '../../functions/core/idempotency.ts';
import type { ListPage, Remediator } from '../../functions/core/remediator.ts';
import { listAll, sweepRegion, TokenBucket } from '../../functions/core/sweep.ts';
import { MemorySweepCursorStore, sweepCursorKey } from '../../functions/core/sweep-cursor.ts';
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
const config = parseConfig({ aws: { logGroupKms: { kmsKeyArn: KEY } }, retry: { maxAttempts: 8 } });
const PAGE = 10;

const target = sweepTarget;

/** The fake remediator listing `count` compliant resources in pages of 10; cursor = page index. */
function paged(
  cloud: FakeCloud,
  count: number,
  failures: RemediationError[] = [],
): Remediator<FakeTarget, string, FakeResource> & { pages: (string | undefined)[] } {
  const names = Array.from({ length: count }, (_, i) => `/g${String(i).padStart(3, '0')}`);
  for (const n of names) cloud.resources.set(n, { key: KEY });
  const pages: (string | undefined)[] = [];
  const listPage = async (
    _region: string,
    _config: unknown,
    cursor?: string,
  ): Promise<ListPage<FakeTarget>> => {
    pages.push(cursor);
    const failure = failures.shift();
    if (failure) throw failure;
    const at = cursor === undefined ? 0 : Number(cursor);
    if (!Number.isInteger(at)) throw new InvalidError('bad token', { code: 'InvalidParameterException' });
    const targets = names.slice(at * PAGE, (at + 1) * PAGE).map(target);
    return { targets, ...((at + 1) * PAGE < count ? { next: String(at + 1) } : {}) };
  };
  const base = fakeRemediator(cloud);
  const { list: _unused, ...rest } = { ...base, list: undefined };
  return { ...rest, listPage, list: listAll(listPage), pages };
}

describe('paged listings in a sweep', () => {
  it('retries a throttled page alone, more than three times, with backoff, and lists everything', async () => {
    const cloud = new FakeCloud();
    const throttles = Array.from({ length: 5 }, () => fault.throttled());
    const r = paged(cloud, 30, []);
    // Page 0 answers; page "1" is throttled five times in a row.
    const listPage = r.listPage;
    let calls = 0;
    r.listPage = async (region, cfg, cursor) => {
      calls++;
      if (cursor === '1' && throttles.length > 0) throw throttles.shift();
      return listPage?.(region, cfg, cursor) as Promise<ListPage<FakeTarget>>;
    };
    const { clock, now, sleep } = virtualClock();

    const result = await sweepRegion(r, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: { sleep, now, random: () => 0.5 },
    });

    expect(result.complete).toBe(true);
    expect(result.listed).toBe(30);
    // Pages 0, 1 (x6), 2: page 0 was never listed again.
    expect(calls).toBe(8);
    expect(r.pages.filter((c) => c === undefined)).toHaveLength(1);
    // Backed off under the policy (full jitter, 0.5 of 100, 200, 400, 800, 1600 ms).
    expect(clock.t).toBe(50 + 100 + 200 + 400 + 800);
  });

  it('paces listing pages through the sweep bucket like any other call', async () => {
    const cloud = new FakeCloud();
    const r = paged(cloud, 30);
    const { clock, now, sleep } = virtualClock();

    await sweepRegion(r, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: { sleep, now, random: () => 0.5 },
      bucket: new TokenBucket(2, { now, sleep }),
      concurrency: 1,
    });

    // 3 pages + 30 reads = 33 tokens at 2/s (the first free): 16 s.
    expect(cloud.reads).toBe(30);
    expect(clock.t).toBe(16_000);
  });

  it('gives up on a page that stays throttled past the budget with one failed line, keeping the cursor', async () => {
    const cloud = new FakeCloud();
    const r = paged(cloud, 30, []);
    const listPage = r.listPage;
    r.listPage = async (region, cfg, cursor) => {
      if (cursor === '2') throw fault.throttled();
      return listPage?.(region, cfg, cursor) as Promise<ListPage<FakeTarget>>;
    };
    const cursors = new MemorySweepCursorStore();

    const result = await sweepRegion(r, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: { sleep: async () => {}, random: () => 0.5 },
      cursors,
    });

    expect(result.complete).toBe(false);
    expect(result.listed).toBe(20);
    expect(result.outcomes.at(-1)).toMatchObject({
      outcome: 'failed',
      error: { code: 'ThrottlingException' },
    });
    expect(await cursors.get(sweepCursorKey('aws.log-group-kms', 'us-east-1'))).toBe('2');
  });

  it('saves where it ran out of time and resumes there next run, then forgets the cursor at the end', async () => {
    const cloud = new FakeCloud();
    const r = paged(cloud, 50);
    const cursors = new MemorySweepCursorStore();
    let budget = 0;
    const run = (resources: number) => {
      budget = resources;
      return sweepRegion(r, 'us-east-1', {
        config,
        store: new MemoryIdempotencyStore(),
        engine: { sleep: async () => {}, random: () => 0.5 },
        cursors,
        concurrency: 1,
        outOfTime: () => budget-- <= 0,
      });
    };

    const first = await run(25);
    const second = await run(100);

    // 25 checks: one before each of pages 0, 1, 2 and one per resource started.
    expect(first).toMatchObject({ complete: false, listed: 22, stoppedAt: '2' });
    expect(first.resumedFrom).toBeUndefined();
    // Resumed at page 2 (the page it stopped in), not at the top.
    expect(second).toMatchObject({ complete: true, resumedFrom: '2' });
    expect(second.outcomes.map((o) => o.resource)[0]).toBe('/g020');
    expect(second.listed).toBe(30);
    expect(await cursors.get(sweepCursorKey('aws.log-group-kms', 'us-east-1'))).toBeUndefined();
  });

  it('starts from the top when the saved cursor is refused (an expired token)', async () => {
    const cloud = new FakeCloud();
    const r = paged(cloud, 20);
    const cursors = new MemorySweepCursorStore();
    await cursors.set(sweepCursorKey('aws.log-group-kms', 'us-east-1'), 'stale-token');

    const result = await sweepRegion(r, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: { sleep: async () => {}, random: () => 0.5 },
      cursors,
    });

    expect(result).toMatchObject({ complete: true, listed: 20 });
    expect(r.pages).toEqual(['stale-token', undefined, '1']);
  });
});

describe('unpaged listings in a sweep', () => {
  it('restart under the retry policy after a throttle, more than three times', async () => {
    const cloud = new FakeCloud();
    for (const n of ['/a', '/b']) cloud.resources.set(n, { key: KEY });
    let failures = 5;
    let listings = 0;
    const r = {
      ...fakeRemediator(cloud),
      async *list() {
        listings++;
        yield target('/a');
        if (failures-- > 0) throw fault.throttled();
        yield target('/b');
      },
    };

    const result = await sweepRegion(r, 'us-east-1', {
      config,
      store: new MemoryIdempotencyStore(),
      engine: { sleep: async () => {}, random: () => 0.5 },
    });

    expect(result.complete).toBe(true);
    expect(listings).toBe(6);
    expect(result.outcomes.map((o) => o.resource).sort()).toEqual(['/a', '/b']);
  });
});
