import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { NotReadyError } from '#core/errors';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { AnyRemediator } from '#core/manifest';
import type { Remediator, Target } from '#core/remediator';
import {
  createFcHandler,
  DEFAULT_DEFER_DEADLINE_MS,
  deferralDelaySeconds,
  type FcHandlerOptions,
  FcRemediationError,
  planDeferral,
  unwrapDeferred,
  wrapDeferred,
} from '../../../functions/alicloud/fc.ts';
import type { Config } from '../../../functions/config.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { type FcEmulator, startFc } from '../../emulator/fc.ts';

const T0 = Date.parse('2026-11-22T08:00:00Z');
const MIN = 60_000;

describe('deferral bookkeeping (pure)', () => {
  it('grows the delay 60, 120, 240, 480 s and caps it at 900 s, jittered down by at most 20 %', () => {
    const top = [1, 2, 3, 4, 5, 9].map((n) => deferralDelaySeconds(n, 1));
    const bottom = [1, 2, 3, 4, 5, 9].map((n) => deferralDelaySeconds(n, 0));

    expect(top).toEqual([60, 120, 240, 480, 900, 900]);
    expect(bottom).toEqual([48, 96, 192, 384, 720, 720]);
  });

  it('plans the first re-queue from now', () => {
    const plan = planDeferral(undefined, DEFAULT_DEFER_DEADLINE_MS, T0, 1);

    expect(plan).toEqual({
      kind: 'requeue',
      deferral: { attempt: 1, firstSeenAt: '2026-11-22T08:00:00.000Z' },
      delaySeconds: 60,
    });
  });

  it('never sleeps past the deadline, and expires once it has passed', () => {
    const previous = { attempt: 7, firstSeenAt: new Date(T0).toISOString() };

    const near = planDeferral(previous, 120 * MIN, T0 + 118 * MIN, 1);
    const past = planDeferral(previous, 120 * MIN, T0 + 120 * MIN, 1);

    expect(near).toMatchObject({ kind: 'requeue', delaySeconds: 120, deferral: { attempt: 8 } });
    expect(past).toMatchObject({ kind: 'expired', waitedMs: 120 * MIN });
  });

  it('ends the chain at once when the wrapper cannot be trusted: no real date, a future date, too many attempts', () => {
    const plan = (attempt: number, firstSeenAt: string) =>
      planDeferral({ attempt, firstSeenAt }, 120 * MIN, T0, 1);

    expect(plan(1, '2026-02-31T08:00:00Z')).toMatchObject({ kind: 'expired', code: 'DeferralStateInvalid' });
    expect(plan(1, '2026-11-22T25:00:00Z')).toMatchObject({ kind: 'expired', code: 'DeferralStateInvalid' });
    expect(plan(1, 'Sun Nov 22 2026')).toMatchObject({ kind: 'expired', code: 'DeferralStateInvalid' });
    expect(plan(1, '2027-01-01T00:00:00Z')).toMatchObject({
      kind: 'expired',
      code: 'DeferralStateInvalid',
      why: expect.stringContaining('in the future'),
    });
    // A few minutes ahead is clock skew between FC hosts, not a forgery.
    expect(plan(1, new Date(T0 + 2 * MIN).toISOString())).toMatchObject({ kind: 'requeue' });
    // 120 min at >= 48 s per re-queue allows at most 152 attempts; a forged count far beyond ends it.
    expect(plan(5_000, new Date(T0 - MIN).toISOString())).toMatchObject({
      kind: 'expired',
      code: 'DeferralAttemptsExceeded',
    });
    expect(plan(150, new Date(T0 - MIN).toISOString())).toMatchObject({ kind: 'requeue' });
  });

  it('a chain of honest re-queues reaches the deadline before the attempt bound', () => {
    let deferral: { attempt: number; firstSeenAt: string } | undefined;
    let now = T0;
    let end: ReturnType<typeof planDeferral> | undefined;
    for (let i = 0; i < 1_000 && end === undefined; i++) {
      const plan = planDeferral(deferral, 24 * 60 * MIN, now, 0);
      if (plan.kind === 'expired') end = plan;
      else {
        deferral = plan.deferral;
        now += plan.delaySeconds * 1000;
      }
    }

    expect(end).toMatchObject({ kind: 'expired', code: 'DeferralDeadlineExceeded' });
  });

  it('unwraps only its own wrapper', () => {
    const original = { id: 'e1', type: 'x' };
    const wrapped = wrapDeferred(original, { attempt: 2, firstSeenAt: '2026-11-22T08:00:00Z' });

    expect(unwrapDeferred(wrapped)).toEqual({
      event: original,
      deferral: { attempt: 2, firstSeenAt: '2026-11-22T08:00:00Z' },
    });
    expect(unwrapDeferred(original)).toEqual({ event: original });
    const forged = { atrest: { deferred: { attempt: 0, firstSeenAt: 'yesterday' } }, event: original };
    expect(unwrapDeferred(forged)).toEqual({ event: forged });
  });
});

/** A remediator whose read answers what the test says. */
function stub(read: () => Promise<unknown>): AnyRemediator {
  const remediator: Remediator<Target, string, string> = {
    id: 'alicloud.cluster-kms',
    owns: () => true,
    parse: (event) =>
      typeof event === 'object' && event !== null && 'id' in event
        ? {
            kind: 'targets',
            targets: [{ eventId: 'e1', account: '1234567890123456', region: 'cn-hangzhou', resource: 'c1' }],
          }
        : { kind: 'rejected', code: 'InvalidEvent', reason: 'no id' },
    desire: () => ({ kind: 'desired', desired: 'k', key: 'k' }),
    read: read as Remediator<Target, string, string>['read'],
    evaluate: (state) => (state === 'k' ? { kind: 'compliant' } : { kind: 'write' }),
    apply: async () => {},
    classify: (e) => e as NotReadyError,
  };
  return remediator;
}

describe('createFcHandler', () => {
  let fc: FcEmulator;
  const logs: string[] = [];
  const config: Config = { alicloud: { clusterKms: { kmsKeyId: 'k' } } };
  const context = {
    requestId: 'fc-req-1',
    function: { name: 'atrest-cluster-kms', timeout: 60 },
    region: 'cn-hangzhou',
    accountId: '1234567890123456',
    credentials: { ...EMULATOR_CREDENTIALS, securityToken: undefined },
  };
  const make = (read: () => Promise<unknown>, overrides: Partial<FcHandlerOptions> = {}) =>
    createFcHandler({
      create: () => stub(read),
      env: { ATREST_CONFIG_JSON: JSON.stringify(config), ALIBABA_CLOUD_ENDPOINT_FC: fc.url },
      store: new MemoryIdempotencyStore(),
      engine: { sleep: async () => {} },
      now: () => T0,
      random: () => 1,
      log: (line) => logs.push(line),
      ...overrides,
    });
  const notReady = async () => ({ kind: 'notReady', reason: 'cluster is initial' });

  beforeAll(async () => {
    fc = await startFc({ functions: ['atrest-cluster-kms'] });
  });
  afterAll(() => fc.stop());
  beforeEach(() => {
    logs.length = 0;
    fc.drain();
  });

  it('re-queues a deferred event through InvokeFunction with x-fc-async-delay and the wrapper', async () => {
    const event = { id: 'e1' };

    const outcomes = await make(notReady)(Buffer.from(JSON.stringify(event)), context);

    expect(outcomes.map((o) => o.outcome)).toEqual(['deferred']);
    expect(fc.drain()).toEqual([
      expect.objectContaining({
        functionName: 'atrest-cluster-kms',
        invocationType: 'Async',
        delaySeconds: 60,
        json: { atrest: { deferred: { attempt: 1, firstSeenAt: '2026-11-22T08:00:00.000Z' } }, event },
      }),
    ]);
    expect(logs.map((l) => JSON.parse(l).message)).toEqual(['requeued', 'outcome']);
  });

  it('turns a deferral past the deadline into failed DeferralDeadlineExceeded and throws', async () => {
    const wrapped = wrapDeferred(
      { id: 'e1' },
      { attempt: 9, firstSeenAt: new Date(T0 - 121 * MIN).toISOString() },
    );

    const error = await make(notReady)(wrapped, context).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FcRemediationError);
    expect((error as FcRemediationError).outcomes[0]).toMatchObject({
      outcome: 'failed',
      error: { code: 'DeferralDeadlineExceeded' },
    });
    expect((error as Error).message).toContain('DeferralDeadlineExceeded');
    expect(fc.drain()).toEqual([]);
  });

  it('throws when the re-queue itself fails, after logging it', async () => {
    const handler = make(notReady);
    const lost = { ...context, function: { name: 'not-deployed', timeout: 60 } };

    const error = await handler({ id: 'e1' }, lost).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FcRemediationError);
    expect(
      logs.some((l) => JSON.parse(l).message === 'requeue failed' && l.includes('FunctionNotFound')),
    ).toBe(true);
  });

  it('throws for a rejected event so the dead letter gets it, with the outcome in the message', async () => {
    const error = await make(notReady)('not json at all', context).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FcRemediationError);
    expect((error as Error).message).toContain('"outcome":"rejected"');
  });

  it('returns the outcomes and logs one line per outcome when all is well, never credentials', async () => {
    const outcomes = await make(async () => ({ kind: 'found', state: 'k' }))({ id: 'e1' }, context);

    expect(outcomes.map((o) => o.outcome)).toEqual(['compliant']);
    expect(logs).toHaveLength(1);
    expect(JSON.parse(logs[0] ?? '{}')).toMatchObject({
      level: 'INFO',
      message: 'outcome',
      requestId: 'fc-req-1',
    });
    expect(logs.join('\n')).not.toContain(EMULATOR_CREDENTIALS.accessKeySecret);
  });

  it('fails a re-queued event whose firstSeenAt is no real date at once, and re-queues nothing', async () => {
    const wrapped = { atrest: { deferred: { attempt: 1, firstSeenAt: 'not-a-date' } }, event: { id: 'e1' } };

    const error = await make(notReady)(Buffer.from(JSON.stringify(wrapped)), context).catch(
      (e: unknown) => e,
    );

    expect((error as FcRemediationError).outcomes[0]).toMatchObject({
      outcome: 'failed',
      error: { code: 'DeferralStateInvalid', message: expect.stringContaining('"not-a-date"') },
    });
    expect(fc.drain()).toEqual([]);
  });

  it('fails a re-queued event first seen a year from now at once, instead of waiting for ever', async () => {
    const wrapped = wrapDeferred({ id: 'e1' }, { attempt: 2, firstSeenAt: '2027-11-22T08:00:00Z' });

    const error = await make(notReady)(wrapped, context).catch((e: unknown) => e);

    expect((error as FcRemediationError).outcomes[0]?.error?.code).toBe('DeferralStateInvalid');
    expect(fc.drain()).toEqual([]);
  });

  it('processes a batched delivery (a JSON array) event by event, then throws for the one that failed', async () => {
    const batch = [{ id: 'e1' }, { no: 'id' }, { id: 'e2' }];

    const error = await make(async () => ({ kind: 'found', state: 'k' }))(
      Buffer.from(JSON.stringify(batch)),
      context,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FcRemediationError);
    const outcomes = (error as FcRemediationError).outcomes;
    expect(outcomes.map((o) => o.outcome)).toEqual([
      'compliant',
      'rejected',
      expect.stringMatching(/^(compliant|duplicate)$/),
    ]);
    expect(logs.filter((l) => JSON.parse(l).message === 'outcome')).toHaveLength(3);
  });

  it('re-queues nothing from a batch with an unsettled event: the retry of the whole batch carries the deferral', async () => {
    const error = await make(notReady)(
      Buffer.from(JSON.stringify([{ id: 'e1' }, { no: 'id' }])),
      context,
    ).catch((e: unknown) => e);

    expect((error as FcRemediationError).outcomes.map((o) => o.outcome)).toEqual(['deferred', 'rejected']);
    expect(fc.drain()).toEqual([]);
  });

  it('re-queues the deferred event of a batch whose other events settled, alone', async () => {
    const outcomes = await make(notReady)([{ id: 'e1' }], context);

    expect(outcomes.map((o) => o.outcome)).toEqual(['deferred']);
    expect(fc.drain()).toEqual([
      expect.objectContaining({ json: expect.objectContaining({ event: { id: 'e1' } }) }),
    ]);
  });

  it('returns normally for a batch whose events all settle, and reads a body with a byte-order mark', async () => {
    const body = Buffer.from(`\uFEFF${JSON.stringify([{ id: 'e1' }])}`, 'utf8');

    const outcomes = await make(async () => ({ kind: 'found', state: 'k' }))(body, context);

    expect(outcomes.map((o) => o.outcome)).toEqual(['compliant']);
  });

  it('fails at init, naming the variable, when an endpoint override is not http(s)', () => {
    expect(() =>
      createFcHandler({
        create: () => stub(notReady),
        env: { ATREST_CONFIG_JSON: JSON.stringify(config), ALIBABA_CLOUD_ENDPOINT_SLS: 'ftp://x' },
      }),
    ).toThrow(/ALIBABA_CLOUD_ENDPOINT_SLS: scheme must be http or https/);
  });

  it('uses the configured deadline', async () => {
    const wrapped = wrapDeferred(
      { id: 'e1' },
      { attempt: 3, firstSeenAt: new Date(T0 - 11 * MIN).toISOString() },
    );
    const tight = make(notReady, { deferDeadlineMs: () => 10 * MIN });

    const error = await tight(wrapped, context).catch((e: unknown) => e);

    expect((error as FcRemediationError).outcomes[0]?.error?.code).toBe('DeferralDeadlineExceeded');
  });

  it('builds the remediator once per credentials identity, and afresh when FC rotates the STS keys', async () => {
    const built: Array<() => { accessKeyId: string }> = [];
    const handler = make(async () => ({ kind: 'found', state: 'k' }), {
      create: (credentials) => {
        built.push(credentials);
        return stub(async () => ({ kind: 'found', state: 'k' }));
      },
      store: new MemoryIdempotencyStore(),
    });
    const sts = (id: string) => ({
      ...context,
      credentials: { accessKeyId: id, accessKeySecret: 'secret', securityToken: `token-${id}` },
    });

    await handler({ id: 'e1' }, sts('STS.first'));
    await handler({ id: 'e1' }, sts('STS.first'));
    const afterTwo = built.length;
    await handler({ id: 'e1' }, sts('STS.rotated'));

    expect(afterTwo).toBe(1);
    expect(built.map((credentials) => credentials().accessKeyId)).toEqual(['STS.first', 'STS.rotated']);
  });
});
