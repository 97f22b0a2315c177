/**
 * The key stays (CONTRACT.md section 6): for every function, through its deployed handler (the
 * Lambda handler, the Function Compute adapter) against its emulator: a tamper after the creation
 * is restored; atrest's own write ends without a write and with at most one read; a resource
 * stripped again and again is restored `maxRestoresPerHour` times, then `EnforcementLoop` with no
 * write (and the invocation fails, which alarms); `enforce: "create"` ignores tampers with a
 * reason; a redelivered tamper is `duplicate`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type IdempotencyStore, MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { MemoryRestoreCounter, type RestoreCounter, WINDOW_MS } from '#core/restores';
import { createFcHandler, type FcHandlerOptions } from '../../functions/alicloud/fc.ts';
import { type Config, parseConfig } from '../../functions/config.ts';
import { manifestOf } from '../../functions/manifests.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { allDrivers, type Driver, type EventJson, ecsDiskDefaultDriver } from './drivers.ts';

/** The driver's config with extra keys in the function's section. */
function configWith(d: Driver, extra: Record<string, unknown>): Config {
  const config = structuredClone(d.config()) as Record<string, Record<string, Record<string, unknown>>>;
  const { cloud, section: key } = manifestOf(d.id);
  const section = config[cloud]?.[key];
  if (!section) throw new Error(`${d.id}: no section`);
  Object.assign(section, extra);
  return parseConfig(config);
}

const FC_HANDLERS: Record<
  string,
  () => Promise<{ handlerOptions: (o: Partial<FcHandlerOptions>) => FcHandlerOptions }>
> = {
  'alicloud.logstore-encryption': () => import('../../functions/alicloud/logstore-encryption/handler.ts'),
  'alicloud.cluster-kms': () => import('../../functions/alicloud/cluster-kms/handler.ts'),
  'alicloud.table-bucket-encryption': () =>
    import('../../functions/alicloud/table-bucket-encryption/handler.ts'),
  'alicloud.disk-default-kms': () => import('../../functions/alicloud/disk-default-kms/handler.ts'),
};

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

const lambdaContext = {
  functionName: 'atrest-log-group-kms',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:atrest-log-group-kms',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

const fcContext = {
  requestId: 'fc-tamper',
  credentials: EMULATOR_CREDENTIALS,
  function: { timeout: 60 },
  accountId: '1234567890123456',
  region: 'cn-hangzhou',
};

/** The function's deployed entry, built as the platform builds it, with the test's stores and clock. */
async function deployed(d: Driver, deps: Deployed): Promise<(event: EventJson) => Promise<Invocation>> {
  const engine = { sleep: async () => {}, random: () => 0.5, now: deps.now };
  const settle = async (run: () => Promise<Outcome[]>): Promise<Invocation> => {
    try {
      return { outcomes: await run(), threw: false };
    } catch (error) {
      const outcomes = (error as { outcomes?: Outcome[] }).outcomes;
      if (!outcomes) throw error;
      return { outcomes: [...outcomes], threw: true };
    }
  };
  if (d.id === 'aws.log-group-kms') {
    // The module builds its own `handler` at import (Lambda init), from the process environment.
    vi.stubEnv('ATREST_CONFIG_JSON', JSON.stringify(deps.config));
    const { createHandler } = await import('../../functions/aws/log-group-kms/handler.ts');
    const handler = createHandler({
      env: { ATREST_CONFIG_JSON: JSON.stringify(deps.config), AWS_REGION: 'us-east-1' },
      logger: new Logger({ serviceName: 'atrest', logLevel: 'SILENT' }),
      store: deps.store,
      restores: deps.restores,
      remediator: d.remediator(),
      engine,
    });
    return (event) => settle(() => handler(event, lambdaContext));
  }
  const load = FC_HANDLERS[d.id];
  if (!load) throw new Error(`${d.id}: no FC handler`);
  const { handlerOptions } = await load();
  const handler = createFcHandler(
    handlerOptions({
      env: { ATREST_CONFIG_JSON: JSON.stringify(deps.config), ...d.env() },
      store: deps.store,
      restores: deps.restores,
      engine,
      log: () => {},
    }),
  );
  return (event) => settle(() => handler(Buffer.from(JSON.stringify(event)), fcContext));
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

  // The account-level disk setting has no exclude list; every other function's resources can be excluded.
  if (d.id !== 'alicloud.disk-default-kms')
    it('never touches an excluded resource, whatever strips it', async () => {
      // Prepare: every name excluded
      const invoke = await deployed(d, deps(configWith(d, { exclude: ['.*'] })));
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
    const engine = { sleep: async () => {}, random: () => 0.5, now: () => clock };
    const unwrap = (error: { outcomes?: Outcome[] }) => error.outcomes ?? Promise.reject(error);
    if (d.id === 'aws.log-group-kms') {
      vi.stubEnv('ATREST_CONFIG_JSON', JSON.stringify(config));
      const { createHandler } = await import('../../functions/aws/log-group-kms/handler.ts');
      const handler = createHandler({
        env: { ATREST_CONFIG_JSON: JSON.stringify(config), AWS_REGION: 'us-east-1', ...env },
        logger: new Logger({ serviceName: 'atrest', logLevel: 'SILENT' }),
        remediator: d.remediator(),
        engine,
      });
      return (event: EventJson) => handler(event, lambdaContext).catch(unwrap);
    }
    const { handlerOptions } = await import('../../functions/alicloud/logstore-encryption/handler.ts');
    const handler = createFcHandler(
      handlerOptions({
        env: { ATREST_CONFIG_JSON: JSON.stringify(config), ...d.env(), ...env },
        engine,
        log: () => {},
      }),
    );
    return (event: EventJson) => handler(Buffer.from(JSON.stringify(event)), fcContext).catch(unwrap);
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

  it('aws.log-group-kms: two Lambda instances share the DynamoDB count', async () => {
    // Prepare
    const { startDynalite } = await import('../emulator/dynalite.ts');
    const db = await startDynalite({ tableName: 'atrest-tamper' });
    const [d] = allDrivers();
    const driver = d as Driver;
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

  it('alicloud.logstore-encryption: two FC instances share the Tablestore count', async () => {
    // Prepare
    const { startTablestore } = await import('../emulator/tablestore.ts');
    // The FC context's credentials sign both the SLS calls and the Tablestore ones.
    const ots = await startTablestore({ credentials: EMULATOR_CREDENTIALS });
    const driver = allDrivers()[1] as Driver;
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
