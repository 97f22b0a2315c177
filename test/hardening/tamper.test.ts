/**
 * The key stays (CONTRACT.md section 6): for every function, through its deployed handler (the
 * Lambda handler, the Function Compute adapter) against its emulator: a tamper after the creation
 * is restored; atrest's own write ends without a write and with at most one read; a resource
 * stripped again and again is restored `maxRestoresPerHour` times, then `EnforcementLoop` with no
 * write (and the invocation fails, which alarms); `enforce: "create"` ignores tampers with a
 * reason; a redelivered tamper is `duplicate`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { MemoryRestoreCounter, type RestoreCounter, WINDOW_MS } from '#core/restores';
import type { Config } from '../../functions/config.ts';
import { manifestOf } from '../../functions/manifests.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { ecsDiskDefaultDriver } from '../functions/alicloud/disk-default-kms/driver.ts';
import { allDrivers, configWith, type Driver, type EventJson, excludingAll } from './drivers.ts';
import { platformEntry } from './platform.ts';

interface Deployed {
  config: Config;
  store: IdempotencyStore;
  restores: RestoreCounter;
  now: () => number;
}

/** What the platform saw: the outcomes, and whether the invocation failed (→ retry, dead letter, alarm). */
interface Invocation {
  outcomes: Outcome[];
  threw: boolean;
}

const T = 1_800_000_000_000;

/** The function's deployed entry, built as the platform builds it, with the test's stores and clock. */
async function deployed(d: Driver, deps: Deployed): Promise<(event: EventJson) => Promise<Invocation>> {
  const invoke = await platformEntry(d, {
    env: { ATREST_CONFIG_JSON: JSON.stringify(deps.config) },
    store: deps.store,
    restores: deps.restores,
    engine: { sleep: async () => {}, random: () => 0.5, now: deps.now },
  });
  return async (event) => {
    try {
      return { outcomes: await invoke(event), threw: false };
    } catch (error) {
      const outcomes = (error as { outcomes?: Outcome[] }).outcomes;
      if (!outcomes) throw error;
      return { outcomes: [...outcomes], threw: true };
    }
  };
}

/**
 * The event as it happened at `ms`: CloudTrail `detail.eventTime` / ActionTrail `data.eventTime`
 * and the envelope's `time`. Idempotency tells a new tamper from a redelivery by when it happened.
 */
function at(event: EventJson, ms: number): EventJson {
  const iso = new Date(ms).toISOString();
  event.time = iso;
  if (event.detail) event.detail.eventTime = iso;
  else if (event.data) event.data.eventTime = iso;
  return event;
}

const writes = (d: Driver) => d.service.calls.filter((c) => c.action === d.writeAction).length;

describe.each(allDrivers().map((d) => [d.id, d] as const))('tamper restore: %s', (_id, d) => {
  let store: MemoryIdempotencyStore;
  let restores: MemoryRestoreCounter;
  let now: number;
  const deps = (config = d.config()): Deployed => ({ config, store, restores, now: () => now });

  beforeAll(async () => {
    await d.start();
  });
  afterAll(async () => {
    await d.stop();
  });
  beforeEach(() => {
    d.reset();
    // The store's clock is the test's: records start when the (simulated) run does.
    store = new MemoryIdempotencyStore(() => now);
    restores = new MemoryRestoreCounter();
    now = T;
  });

  it('restores the configured encryption after a tamper, within the TTL of the creation record', async () => {
    // Prepare: the creation was remediated and its record is kept
    const invoke = await deployed(d, deps());
    d.seed();
    expect((await invoke(d.event(0, 'creation-1'))).outcomes).toMatchObject([{ outcome: 'applied' }]);

    // Act: someone strips the encryption a minute later
    d.strip();
    d.service.resetLog();
    now = T + 60_000;
    const { outcomes, threw } = await invoke(at(d.tamperEvent(0, 'tamper-1'), now));

    // Assess
    expect(outcomes).toMatchObject([{ outcome: 'applied', attempts: 1 }]);
    expect(threw).toBe(false);
    expect(writes(d)).toBe(1);
    expect(d.encrypted()).toBe(true);
  });

  it("ends atrest's own write without a write and with at most one read (no loop)", async () => {
    // Prepare: a restore happened; its write produces an event of its own
    const invoke = await deployed(d, deps());
    d.strip();
    expect((await invoke(at(d.tamperEvent(0, 'tamper-1'), now))).outcomes).toMatchObject([
      { outcome: 'applied' },
    ]);
    d.service.resetLog();

    // Act
    const { outcomes } = await invoke(at(d.ownWriteEvent(0, 'own-write-1'), now + 1_000));

    // Assess
    expect(['ignored', 'compliant']).toContain(outcomes[0]?.outcome);
    expect(outcomes[0]?.attempts).toBe(0);
    expect(writes(d)).toBe(0);
    // One logical read at most (ECS's default key is two calls: the status, then the key).
    expect(d.service.calls.length).toBeLessThanOrEqual(d.callsPerRead);
    expect(d.encrypted()).toBe(true);
  });

  it('restores at most maxRestoresPerHour times an hour, then fails with EnforcementLoop and writes nothing', async () => {
    // Prepare
    const invoke = await deployed(d, deps(configWith(d, { maxRestoresPerHour: 2 })));
    const results: Invocation[] = [];

    // Act: another automation strips the resource again and again within the hour
    for (let round = 1; round <= 3; round++) {
      d.strip();
      d.service.resetLog();
      now = T + round * 60_000;
      results.push(await invoke(at(d.tamperEvent(0, `tamper-${round}`), now)));
    }
    const lastWrites = writes(d);

    // Assess
    expect(results.map((r) => r.outcomes[0]?.outcome)).toEqual(['applied', 'applied', 'failed']);
    expect(results[2]?.outcomes[0]).toMatchObject({
      attempts: 0,
      error: { code: 'EnforcementLoop', message: expect.stringContaining('maxRestoresPerHour 2') },
    });
    // A failed invocation: the platform retries and dead-letters it, and the failure alarm fires.
    expect(results[2]?.threw).toBe(true);
    expect(lastWrites).toBe(0);
    expect(d.encrypted()).toBe(false);

    // The next hour restores again.
    d.service.resetLog();
    now = T + WINDOW_MS;
    expect((await invoke(at(d.tamperEvent(0, 'tamper-4'), now))).outcomes).toMatchObject([
      { outcome: 'applied' },
    ]);
  });

  it('ignores tamper events with a reason when enforce is "create"', async () => {
    // Prepare
    const invoke = await deployed(d, deps(configWith(d, { enforce: 'create' })));
    d.strip();
    d.service.resetLog();

    // Act
    const { outcomes, threw } = await invoke(at(d.tamperEvent(0, 'tamper-1'), now));

    // Assess
    expect(outcomes).toMatchObject([
      { outcome: 'ignored', reason: expect.stringContaining('enforce is "create"') },
    ]);
    expect(threw).toBe(false);
    expect(d.service.calls).toHaveLength(0);
    expect(d.encrypted()).toBe(false);
  });

  // A function whose config has an exclude list (not the account-level disk setting).
  const excluding = excludingAll(d);
  if (excluding)
    it('never touches an excluded resource, whatever strips it', async () => {
      // Prepare: every name excluded
      const invoke = await deployed(d, deps(excluding));
      d.strip();
      d.service.resetLog();

      // Act
      const { outcomes } = await invoke(at(d.tamperEvent(0, 'tamper-1'), now));

      // Assess
      expect(outcomes).toMatchObject([{ outcome: 'excluded', reason: expect.stringContaining('.*') }]);
      expect(d.service.calls).toHaveLength(0);
      expect(d.encrypted()).toBe(false);
    });

  it('answers a redelivered tamper event as duplicate, without an API call', async () => {
    // Prepare
    const invoke = await deployed(d, deps());
    d.strip();
    const event = at(d.tamperEvent(0, 'tamper-1'), now);
    expect((await invoke(event)).outcomes).toMatchObject([{ outcome: 'applied' }]);
    d.service.resetLog();

    // Act
    const { outcomes } = await invoke(structuredClone(event));

    // Assess
    expect(outcomes).toMatchObject([{ outcome: 'duplicate' }]);
    expect(d.service.calls).toHaveLength(0);
  });
});

describe('tamper restore: what only some functions have', () => {
  const d = ecsDiskDefaultDriver();
  beforeAll(async () => {
    await d.start();
  });
  afterAll(async () => {
    await d.stop();
  });
  beforeEach(() => {
    d.reset();
  });

  const disable = (): EventJson => {
    const e = d.tamperEvent(0, 'disable-1');
    e.data.eventName = 'DisableDiskEncryptionByDefault';
    return e;
  };
  const deps = (config: Config): Deployed => ({
    config,
    store: new MemoryIdempotencyStore(),
    restores: new MemoryRestoreCounter(),
    now: () => T,
  });

  it('alicloud.disk-default-kms: DisableDiskEncryptionByDefault without enableIfDisabled ends excluded after a read', async () => {
    // Prepare: default encryption was switched off (reset() leaves every region off)
    const invoke = await deployed(d, deps(d.config()));

    // Act
    const { outcomes } = await invoke(disable());

    // Assess
    expect(outcomes).toMatchObject([
      { outcome: 'excluded', reason: expect.stringContaining('enableIfDisabled'), attempts: 0 },
    ]);
    expect(d.service.calls.map((c) => c.action)).toEqual(['DescribeDiskEncryptionByDefaultStatus']);
  });

  it('alicloud.disk-default-kms: with enableIfDisabled it turns default encryption back on with the key', async () => {
    // Prepare: the key exists; default encryption is off
    d.seed();
    d.emulator.state.seedRegion('cn-hangzhou', { encrypted: false });
    const invoke = await deployed(d, deps(configWith(d, { enableIfDisabled: true })));

    // Act
    const { outcomes } = await invoke(disable());

    // Assess
    expect(outcomes).toMatchObject([{ outcome: 'applied' }]);
    expect(d.encrypted()).toBe(true);
  });
});

describe('the cap is counted in the idempotency backend, across function instances', () => {
  let clock = T;
  /** A platform entry with no store or counter passed: it builds the platform's own from `env`. */
  const instance = async (d: Driver, env: Record<string, string>, config: Config) => {
    const invoke = await platformEntry(d, {
      env: { ATREST_CONFIG_JSON: JSON.stringify(config), ...env },
      engine: { sleep: async () => {}, random: () => 0.5, now: () => clock },
    });
    const unwrap = (error: { outcomes?: Outcome[] }) => error.outcomes ?? Promise.reject(error);
    return (event: EventJson) => invoke(event).catch(unwrap);
  };

  /**
   * Two instances on one shared count (`env`), a cap of 1: instance one restores a strip, then
   * instance two meets the next strip a minute later and refuses (EnforcementLoop), writing nothing.
   */
  const secondInstanceRefused = async (driver: Driver, env: Record<string, string>) => {
    // Prepare
    const config = configWith(driver, { maxRestoresPerHour: 1 });
    const first = await instance(driver, env, config);
    const second = await instance(driver, env, config);

    // Act: instance one restores, then instance two meets the next strip
    driver.strip();
    clock = T;
    const a = await first(at(driver.tamperEvent(0, 'tamper-a'), clock));
    driver.strip();
    driver.service.resetLog();
    clock = T + 60_000;
    const b = await second(at(driver.tamperEvent(0, 'tamper-b'), clock));

    // Assess
    expect(a).toMatchObject([{ outcome: 'applied' }]);
    expect(b).toMatchObject([{ outcome: 'failed', error: { code: 'EnforcementLoop' } }]);
    expect(writes(driver)).toBe(0);
  };

  // One function per platform: the count lives in the platform's store, not in the function.
  const onCloud = (cloud: 'aws' | 'alicloud'): Driver => {
    const d = allDrivers().find((x) => manifestOf(x.id).cloud === cloud);
    if (!d) throw new Error(`no ${cloud} driver`);
    return d;
  };

  it('two Lambda instances share the DynamoDB count', async () => {
    // Prepare
    const { startDynalite } = await import('../emulator/dynalite.ts');
    const db = await startDynalite({ tableName: 'atrest-tamper' });
    const driver = onCloud('aws');
    await driver.start();
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
    try {
      driver.reset();
      await secondInstanceRefused(driver, { IDEMPOTENCY_TABLE_NAME: db.tableName });
    } finally {
      await driver.stop();
      await db.stop();
    }
  });

  it('two FC instances share the Tablestore count', async () => {
    // Prepare
    const { startTablestore } = await import('../emulator/tablestore.ts');
    // The FC context's credentials sign both the SLS calls and the Tablestore ones.
    const ots = await startTablestore({ credentials: EMULATOR_CREDENTIALS });
    const driver = onCloud('alicloud');
    await driver.start();
    try {
      driver.reset();
      await secondInstanceRefused(driver, {
        ATREST_OTS_ENDPOINT: ots.endpoint,
        ATREST_OTS_INSTANCE: ots.instanceName,
        ATREST_OTS_TABLE: ots.tableName,
      });
      expect([...ots.rows().keys()].some((k) => String(k).includes('restores#'))).toBe(true);
    } finally {
      await driver.stop();
      await ots.stop();
    }
  });
});
