/**
 * The engine's part of tamper restore: a restore is counted against the resource's hourly cap
 * just before it would write — never for a compliant resource, a dry run, or a creation — and past
 * the cap the target ends `failed` with `EnforcementLoop` and no write.
 */
import { describe, expect, it } from 'vitest';
import { remediateTarget } from '#core/engine';
import { MemoryIdempotencyStore } from '#core/idempotency';
import { MemoryRestoreCounter, type RestoreCounter } from '#core/restores';
import { parseConfig } from '../../functions/config.ts';
import { FakeCloud, type FakeTarget, fakeRemediator, fault } from './fake-remediator.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const config = parseConfig({ aws: { logGroupKms: { kmsKeyArn: KEY } } });
const T = 1_800_000_000_000;

const target = (n: number, tamper = true): FakeTarget => ({
  eventId: `e-${n}`,
  account: '111122223333',
  region: 'us-east-1',
  resource: 'g',
  name: 'g',
  observedAt: new Date(T + n * 1_000).toISOString(),
  ...(tamper ? { tamper: { event: 'DisassociateKmsKey', callId: `call-${n}`, maxRestoresPerHour: 2 } } : {}),
});

function setup() {
  const cloud = new FakeCloud();
  cloud.resources.set('g', {});
  const restores = new MemoryRestoreCounter();
  const deps = { config, store: new MemoryIdempotencyStore(), restores, now: () => T, sleep: async () => {} };
  return { cloud, remediator: fakeRemediator(cloud), deps, restores };
}

describe('the engine and the restore cap', () => {
  it('counts restores and refuses the one past the cap without writing', async () => {
    const { cloud, remediator, deps } = setup();
    const outcomes = [];
    for (let n = 1; n <= 3; n++) {
      cloud.resources.set('g', {}); // stripped again
      outcomes.push(await remediateTarget(remediator, target(n), deps));
    }
    expect(outcomes.map((o) => o.outcome)).toEqual(['applied', 'applied', 'failed']);
    expect(outcomes[2]).toMatchObject({ attempts: 0, error: { code: 'EnforcementLoop' } });
    expect(cloud.writes).toBe(2);
  });

  it('counts nothing when the resource is already right, in a dry run, or for a creation', async () => {
    const { cloud, remediator, deps } = setup();
    const counted: string[] = [];
    const spy: RestoreCounter = {
      take: async (key, callId, limit, now) => {
        counted.push(key);
        return deps.restores.take(key, callId, limit, now);
      },
    };
    cloud.resources.set('g', { key: KEY });
    expect((await remediateTarget(remediator, target(1), { ...deps, restores: spy })).outcome).toBe(
      'compliant',
    );
    cloud.resources.set('g', {});
    expect(
      (await remediateTarget(remediator, target(2), { ...deps, restores: spy, dryRun: true })).outcome,
    ).toBe('applied');
    expect((await remediateTarget(remediator, target(3, false), { ...deps, restores: spy })).outcome).toBe(
      'applied',
    );
    expect(counted).toEqual([]);
  });

  it('does not use up the cap when the same tamper comes back after a write that did not land', async () => {
    const { cloud, remediator, deps } = setup();
    // ACK answers 409 inside its 5-minute window: the event is deferred and re-queued, several times.
    cloud.writeFailures.push(fault.notReady(), fault.notReady(), fault.notReady());
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await remediateTarget(remediator, target(1), deps));
    expect(outcomes.map((o) => o.outcome)).toEqual(['deferred', 'deferred', 'deferred', 'applied']);
  });

  it('fails, writing nothing, when the counter cannot count', async () => {
    const { cloud, remediator, deps } = setup();
    const broken: RestoreCounter = {
      take: async () => {
        throw Object.assign(new Error('table missing'), { name: 'ResourceNotFoundException' });
      },
    };
    const outcome = await remediateTarget(remediator, target(1), { ...deps, restores: broken });
    expect(outcome).toMatchObject({
      outcome: 'failed',
      error: { code: 'ResourceNotFoundException', message: 'restore counter: table missing' },
    });
    expect(cloud.writes).toBe(0);
  });
});
