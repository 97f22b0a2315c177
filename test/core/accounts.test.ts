/**
 * Whose account: the pure verdict, the credentials cache (one fetch per account per lifetime,
 * refresh before expiry, failures not kept) and the routing remediator through the engine.
 */
import { describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../../functions/config.ts';
import {
  CredentialCache,
  type Expiring,
  judgeAccount,
  routeByAccount,
} from '../../functions/core/accounts.ts';
import { remediateTarget } from '../../functions/core/engine.ts';
import { DeniedError } from '../../functions/core/errors.ts';
import { MemoryIdempotencyStore } from '../../functions/core/idempotency.ts';
import { ScopedRateLimiter, withRateLimit } from '../../functions/core/ratelimit.ts';
import { FakeCloud, type FakeTarget, fakeRemediator } from './fake-remediator.ts';

const ORG = { memberRoleName: 'atrest-member', regions: ['us-east-1'], excludeAccounts: ['999999999999'] };
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('judgeAccount', () => {
  it.each([
    ['own account, no organization', '111122223333', '111122223333', undefined, 'own'],
    ['own account, organization', '111122223333', '111122223333', ORG, 'own'],
    ['member account, organization', '222233334444', '111122223333', ORG, 'member'],
    ['another account, no organization', '222233334444', '111122223333', undefined, 'ignored'],
    ['excluded account', '999999999999', '111122223333', ORG, 'excluded'],
    ['excluded even when it is our own', '999999999999', '999999999999', ORG, 'excluded'],
  ])('%s → %s', (_, account, own, org, kind) => {
    expect(judgeAccount(account, own, org, 'aws').kind).toBe(kind);
  });

  it('the ignored reason names the account and what would change it', () => {
    const verdict = judgeAccount('222233334444', '111122223333', undefined, 'aws');
    expect(verdict).toMatchObject({ kind: 'ignored' });
    expect((verdict as { reason: string }).reason).toMatch(/222233334444.*aws\.organization/);
  });

  it('the member verdict carries the role to assume', () => {
    expect(judgeAccount('222233334444', '111122223333', ORG, 'aws')).toEqual({
      kind: 'member',
      roleName: 'atrest-member',
    });
  });
});

describe('config: organization', () => {
  it('accepts the contract shape under both clouds', () => {
    const config = parseConfig({
      aws: {
        organization: {
          memberRoleName: 'atrest-member',
          regions: ['us-east-1'],
          excludeAccounts: ['444455556666'],
        },
      },
      alicloud: { organization: { memberRoleName: 'atrest-member', regions: ['cn-hangzhou'] } },
    });
    expect(config.aws?.organization?.excludeAccounts).toEqual(['444455556666']);
    expect(config.alicloud?.organization?.regions).toEqual(['cn-hangzhou']);
  });

  it.each([
    [{ aws: { organization: { memberRoleName: 'bad role' } } }, 'config.aws.organization.memberRoleName'],
    [
      { aws: { organization: { memberRoleName: 'r', excludeAccounts: ['12'] } } },
      'config.aws.organization.excludeAccounts.0',
    ],
    [
      { alicloud: { organization: { memberRoleName: 'r', regions: ['us_east'] } } },
      'config.alicloud.organization.regions.0',
    ],
    [{ aws: { organization: { memberRoleName: 'r', roleName: 'x' } } }, 'config.aws.organization'],
  ])('names the bad field %#', (value, field) => {
    expect(() => parseConfig(value)).toThrow(field);
  });
});

interface Creds extends Expiring {
  id: string;
}

describe('CredentialCache', () => {
  const setup = (lifetimeMs = 3_600_000) => {
    const clock = { now: 1_000_000 };
    let n = 0;
    const fetched: string[] = [];
    const cache = new CredentialCache<Creds>(
      async (account) => {
        fetched.push(account);
        n += 1;
        return { id: `${account}#${n}`, expiresAt: clock.now + lifetimeMs };
      },
      { now: () => clock.now },
    );
    return { clock, cache, fetched };
  };

  it('one fetch per account, shared by concurrent callers', async () => {
    const { cache, fetched } = setup();
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.get(i % 2 ? 'a' : 'b')));
    expect(fetched.sort()).toEqual(['a', 'b']);
    expect(new Set(all.map((c) => c.id)).size).toBe(2);
    expect(cache.fetches).toBe(2);
  });

  it('kept until the refresh margin (5 min) before expiry, then fetched again', async () => {
    const { clock, cache, fetched } = setup();
    await cache.get('a');
    clock.now += 54 * 60_000;
    expect((await cache.get('a')).id).toBe('a#1');
    clock.now += 2 * 60_000; // 56 min: inside the margin
    expect(cache.current('a')).toBeUndefined();
    expect((await cache.get('a')).id).toBe('a#2');
    expect(fetched).toEqual(['a', 'a']);
  });

  it('a failed fetch is not kept: the next call asks again', async () => {
    let fail = true;
    const cache = new CredentialCache<Creds>(async (account) => {
      if (fail) throw new DeniedError('no', { code: 'AccessDenied', requestId: 'r1' });
      return { id: account, expiresAt: Date.now() + 3_600_000 };
    });
    await expect(cache.get('a')).rejects.toMatchObject({ code: 'AccessDenied' });
    fail = false;
    expect((await cache.get('a')).id).toBe('a');
    expect(cache.fetches).toBe(2);
  });
});

describe('routeByAccount through the engine', () => {
  const target = (account: string, name = 'g'): FakeTarget => ({
    eventId: `e-${account}-${name}`,
    account,
    region: 'us-east-1',
    resource: `${account}:${name}`,
    name,
  });
  const config: Config = parseConfig({
    aws: { organization: ORG, logGroupKms: { kmsKeyArn: KEY } },
  });

  const world = () => {
    const clouds = new Map<string, FakeCloud>();
    const cloudOf = (account: string) => {
      let c = clouds.get(account);
      if (!c) {
        c = new FakeCloud();
        clouds.set(account, c);
      }
      return c;
    };
    const members: string[] = [];
    const routed = (cfg: Config) =>
      routeByAccount(
        fakeRemediator(cloudOf('111122223333')),
        {
          cloud: 'aws',
          ownAccount: () => '111122223333',
          member: async (account) => {
            members.push(account);
            if (account === '444444444444')
              throw new DeniedError('not authorized to perform: sts:AssumeRole', {
                code: 'AccessDenied',
                requestId: 'sts-req-1',
              });
            return fakeRemediator(cloudOf(account));
          },
        },
        cfg,
      );
    return { cloudOf, members, routed };
  };

  it('reads and writes each target in its own account', async () => {
    const { cloudOf, routed } = world();
    const r = routed(config);
    cloudOf('222222222222').resources.set('g', {});
    cloudOf('111122223333').resources.set('g', {});

    const outcome = await remediateTarget(r, target('222222222222'), {
      config,
      store: new MemoryIdempotencyStore(),
      sleep: async () => {},
    });

    expect(outcome).toMatchObject({ outcome: 'applied', account: '222222222222' });
    expect(cloudOf('222222222222').resources.get('g')?.key).toBeDefined();
    expect(cloudOf('111122223333').writes).toBe(0);
  });

  it('a foreign account without organization: ignored, no call at all', async () => {
    const { cloudOf, members, routed } = world();
    const solo = parseConfig({ aws: { logGroupKms: { kmsKeyArn: KEY } } });
    const outcome = await remediateTarget(routed(solo), target('222222222222'), {
      config: solo,
      store: new MemoryIdempotencyStore(),
    });

    expect(outcome).toMatchObject({ outcome: 'ignored', account: '222222222222', attempts: 0 });
    expect(members).toEqual([]);
    expect(cloudOf('111122223333').reads).toBe(0);
  });

  it('AssumeRole refused: failed with the STS code and request id, nothing read', async () => {
    const { cloudOf, routed } = world();
    const outcome = await remediateTarget(routed(config), target('444444444444'), {
      config,
      store: new MemoryIdempotencyStore(),
    });

    expect(outcome).toMatchObject({
      outcome: 'failed',
      account: '444444444444',
      error: { code: 'AccessDenied', requestId: 'sts-req-1' },
    });
    expect(cloudOf('444444444444').reads).toBe(0);
  });

  it('an excluded account: excluded with the reason, no idempotency record', async () => {
    const { routed } = world();
    const store = new MemoryIdempotencyStore();
    const outcome = await remediateTarget(routed(config), target('999999999999'), { config, store });
    expect(outcome).toMatchObject({ outcome: 'excluded', account: '999999999999' });
    expect(outcome.reason).toContain('excludeAccounts');
  });
});

describe('ScopedRateLimiter', () => {
  it('a throttle in one account/region paces only that scope', async () => {
    const clock = { now: 1_000_000 };
    const slept: number[] = [];
    const limiter = new ScopedRateLimiter({
      now: () => clock.now,
      sleep: async (ms) => {
        slept.push(ms);
        clock.now += ms;
      },
    });
    for (let i = 0; i < 20; i++) {
      await limiter.acquire('write', 'noisy/us-east-1');
      limiter.record('write', i % 2 === 0, 'noisy/us-east-1');
      clock.now += 5;
    }
    const pacedBefore = slept.length;
    for (let i = 0; i < 20; i++) {
      await limiter.acquire('write', 'quiet/us-east-1');
      limiter.record('write', false, 'quiet/us-east-1');
    }

    expect(pacedBefore).toBeGreaterThan(0);
    expect(slept.length).toBe(pacedBefore);
    expect(limiter.of('noisy/us-east-1').rate('write')).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(limiter.of('quiet/us-east-1').rate('write')).toBe(Number.POSITIVE_INFINITY);
  });

  it('a background (sweep) call waits while a live call of its scope is queued', async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const limiter = new ScopedRateLimiter({
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
    });
    // A live call stuck in its scope's queue (the adaptive limiter pacing it).
    const inner = limiter.of('a/r');
    const original = inner.acquire.bind(inner);
    inner.acquire = async (kind) => {
      await gate;
      return original(kind);
    };
    const live = limiter.acquire('write', 'a/r').then(() => order.push('live'));
    const sweep = limiter.acquireBackground('write', 'a/r').then(() => order.push('sweep'));
    const other = limiter.acquireBackground('write', 'b/r').then(() => order.push('other scope'));
    await other;
    release();
    await Promise.all([live, sweep]);

    expect(order).toEqual(['other scope', 'live', 'sweep']);
  });

  it('withRateLimit scopes each call by its target’s account and region', async () => {
    const scopes: string[] = [];
    const limiter = {
      acquire: async (_: string, scope?: string) => {
        scopes.push(scope ?? '');
      },
      record: () => {},
    };
    const r = withRateLimit(fakeRemediator(new FakeCloud()), limiter);
    await r.read({ eventId: 'e', account: '222222222222', region: 'eu-west-1', resource: 'x', name: 'x' });
    expect(scopes).toEqual(['222222222222/eu-west-1']);
  });
});
