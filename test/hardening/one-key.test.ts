/**
 * One piece of work, one key, whatever found it: a sweep's listing and a live event name the same
 * log group with the same idempotency key, so at once they make one write; the disk-default timer
 * tick and a drift event at once make one write too. The delivery that found the key held answers
 * `duplicate` unsettled (its platform retries it), and its retry, observed before the winner began,
 * is a settled duplicate.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { remediateEvent } from '#core/engine';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import { isSettled, type Outcome } from '#core/outcome';
import { sweepRegion } from '#core/sweep';
import { parseConfig } from '../../functions/config.ts';
import { ECS_KEY, ecsDiskDefaultDriver } from '../functions/alicloud/disk-default-kms/driver.ts';
import { awsLogGroupDriver } from '../functions/aws/log-group-kms/driver.ts';
import { RETRY } from './drivers.ts';

const fast = { sleep: async () => {}, random: () => 0.5 };

/** A store that remembers every key it was asked for. */
function recording(inner: IdempotencyStore): IdempotencyStore & { keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    run(key, options, work) {
      keys.push(key);
      return inner.run(key, options, work);
    },
  };
}

describe('aws.log-group-kms: a sweep and a live event for one group', () => {
  const d = awsLogGroupDriver();
  beforeAll(() => d.start());
  afterAll(() => d.stop());
  beforeEach(() => {
    d.reset();
    d.seed();
  });

  it('share one key: at once, one write; the other waits (unsettled) instead of writing again', async () => {
    const store = recording(new MemoryIdempotencyStore(() => Date.parse('2026-11-22T09:14:09Z')));
    const remediator = d.remediator();
    const config = d.config();

    const [swept, [live]] = await Promise.all([
      sweepRegion(remediator, 'us-east-1', { config, store, engine: fast }),
      remediateEvent(remediator, d.event(), { config, store, ...fast }),
    ]);

    expect(new Set(store.keys).size).toBe(1);
    expect(d.service.count({ action: 'AssociateKmsKey' })).toBe(1);
    const both = [...swept.outcomes, live as Outcome];
    expect(both.map((o) => o.outcome).sort()).toEqual(['applied', 'duplicate']);
    expect(both.find((o) => o.outcome === 'duplicate')?.settled).toBe(false);
    expect(d.encrypted()).toBe(true);
  });
});

describe('alicloud.disk-default-kms: a timer tick and a drift event at once', () => {
  const d = ecsDiskDefaultDriver();
  const config = parseConfig({
    alicloud: { diskDefaultKms: { kmsKeyId: ECS_KEY, regions: ['cn-hangzhou'] } },
    retry: RETRY,
  });
  const tick = {
    triggerTime: '2026-11-22T10:00:00Z',
    triggerName: 'atrest-disk-default-kms-hourly',
    payload: '',
  };
  const drift = () => {
    const e = d.event();
    e.data.eventName = 'ModifyDiskDefaultKMSKeyId';
    e.data.eventTime = '2026-11-22T09:59:58Z';
    e.data.requestParameters = { RegionId: 'cn-hangzhou', KMSKeyId: 'someone-elses-key' };
    return e;
  };
  beforeAll(() => d.start());
  afterAll(() => d.stop());
  beforeEach(() => {
    d.reset();
    d.seed();
    d.emulator.state.seedKey('cn-hangzhou', 'someone-elses-key');
    d.emulator.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'someone-elses-key' });
  });

  it('make one write; the loser is unsettled now and a settled duplicate on its retry', async () => {
    let now = Date.parse('2026-11-22T10:00:02Z');
    const store = recording(new MemoryIdempotencyStore(() => now));
    const remediator = d.remediator();
    const run = (event: unknown) => remediateEvent(remediator, event, { config, store, ...fast });

    const [[fromTick], [fromDrift]] = await Promise.all([run(tick), run(drift())]);
    const loser = [fromTick, fromDrift].find((o) => o?.outcome === 'duplicate') as Outcome;
    now += 60_000;
    const [retried] = await run(loser === fromTick ? tick : drift());

    expect(new Set(store.keys).size).toBe(1);
    expect(d.service.count({ action: 'ModifyDiskDefaultKMSKeyId' })).toBe(1);
    expect([fromTick?.outcome, fromDrift?.outcome].sort()).toEqual(['applied', 'duplicate']);
    expect(isSettled(loser)).toBe(false);
    expect(retried).toMatchObject({ outcome: 'duplicate', settled: true });
    expect(d.emulator.state.region('cn-hangzhou').kmsKeyId).toBe(ECS_KEY);
  });

  it('a drift after the tick completed is new work: the key is put back again', async () => {
    let now = Date.parse('2026-11-22T10:00:02Z');
    const store = new MemoryIdempotencyStore(() => now);
    const remediator = d.remediator();
    const run = (event: unknown) => remediateEvent(remediator, event, { config, store, ...fast });

    const [first] = await run(tick);
    d.emulator.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'someone-elses-key' });
    now += 120_000;
    const later = drift();
    later.data.eventTime = '2026-11-22T10:01:30Z';
    const [again] = await run(later);

    expect(first?.outcome).toBe('applied');
    expect(again?.outcome).toBe('applied');
    expect(d.service.count({ action: 'ModifyDiskDefaultKMSKeyId' })).toBe(2);
  });
});
