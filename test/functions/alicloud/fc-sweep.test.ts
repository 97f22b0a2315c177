/**
 * The scheduled sweep of the Function Compute adapter: an FC timer event whose payload is
 * `{"atrest":{"sweep":true}}` runs every resource of the function's region through the engine,
 * with the real clients against the emulators; one log line per outcome plus a `sweep` summary;
 * pacing at ATREST_SWEEP_RATE and the time reserve run on a fake clock.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, type NotReadyError } from '#core/errors';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Remediator, Target } from '#core/remediator';
import { SWEEP_RESERVE_MS } from '#core/sweep';
import { handlerOptions as diskOptions } from '../../../functions/alicloud/disk-default-kms/handler.ts';
import {
  createFcHandler,
  type FcContext,
  type FcHandlerOptions,
  FcRemediationError,
  sweepTimer,
} from '../../../functions/alicloud/fc.ts';
import { handlerOptions as logstoreOptions } from '../../../functions/alicloud/logstore-encryption/handler.ts';
import { handlerOptions as tableBucketOptions } from '../../../functions/alicloud/table-bucket-encryption/handler.ts';
import type { Config } from '../../../functions/config.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { type EcsEmulator, startEcs } from '../../emulator/ecs.ts';
import { type OssTablesEmulator, startOssTables } from '../../emulator/oss-tables.ts';
import { type SlsEmulator, startSls } from '../../emulator/sls.ts';

const ACCOUNT = '1234567890123456';
const REGION = 'cn-hangzhou';
const SWEEP = JSON.stringify({ atrest: { sweep: true } });
const tick = (payload = SWEEP) => ({ triggerTime: '2026-11-22T03:00:00Z', triggerName: 'sweep', payload });
const context = (timeout = 300): FcContext => ({
  requestId: 'fc-sweep-1',
  function: { name: 'atrest-fn', timeout },
  region: REGION,
  accountId: ACCOUNT,
});
const credentials = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
};

let sls: SlsEmulator;
let oss: OssTablesEmulator;
let ecs: EcsEmulator;
let logs: Record<string, unknown>[];

/** A fake clock: `sleep` advances it, so pacing costs no real time and shows in `elapsed()`. */
function fakeClock() {
  const T0 = Date.parse('2026-11-22T03:00:00Z');
  let t = T0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    elapsed: () => t - T0,
  };
}

type Options = Partial<FcHandlerOptions> & { env?: Record<string, string | undefined> };

const build = (make: (o: Partial<FcHandlerOptions>) => FcHandlerOptions, env: object, extra: Options = {}) =>
  createFcHandler(
    make({
      store: new MemoryIdempotencyStore(),
      engine: { sleep: async () => {}, random: () => 0.5 },
      log: (line) => logs.push(JSON.parse(line)),
      ...extra,
      env: { ...credentials, ATREST_SWEEP_RATE: '100', ...env, ...extra.env },
    }),
  );

const logstoreConfig: Config = {
  alicloud: { logstoreEncryption: { encryptType: 'default', exclude: ['^scratch/'] } },
};
const logstoreHandler = (extra: Options = {}, config: Config = logstoreConfig) =>
  build(
    logstoreOptions,
    { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url, ATREST_CONFIG_JSON: JSON.stringify(config) },
    extra,
  );
const lines = (message: string) => logs.filter((l) => l.message === message);

beforeAll(async () => {
  [sls, oss, ecs] = await Promise.all([startSls(), startOssTables(), startEcs()]);
});
afterAll(async () => {
  await Promise.all([sls.stop(), oss.stop(), ecs.stop()]);
});
beforeEach(() => {
  logs = [];
  for (const service of [sls.service, oss.service, ecs.service]) {
    service.resetLog();
    service.clearFaults();
  }
  sls.state.projects.clear();
  oss.state.buckets.clear();
});

/** Six logstores in this region (3 to fix, 1 compliant, 1 excluded, 1 immutable) and one elsewhere. */
function seedLogstores(): void {
  sls.state.seedLogstore('app-logs', 'access');
  sls.state.seedLogstore('app-logs', 'audit');
  sls.state.seedLogstore('app-logs', 'disabled', { enable: false, encrypt_type: 'default' });
  sls.state.seedLogstore('app-logs', 'done', { enable: true, encrypt_type: 'default' });
  sls.state.seedLogstore('app-logs', 'byok', {
    enable: true,
    encrypt_type: 'aes_gcm',
    user_cmk_info: { cmk_key_id: 'key-other', arn: `acs:ram::${ACCOUNT}:role/sls`, region_id: REGION },
  });
  sls.state.seedLogstore('scratch', 'tmp');
  sls.state.seedProject('sh-logs', { region: 'cn-shanghai' });
  sls.state.seedLogstore('sh-logs', 'elsewhere');
}

describe('FC scheduled sweep: alicloud.logstore-encryption against the SLS emulator', () => {
  it('recognises only a timer event that carries exactly the sweep payload', () => {
    expect(sweepTimer(tick())).toMatchObject({ triggerName: 'sweep' });
    expect(sweepTimer(tick(''))).toBeUndefined();
    expect(sweepTimer(tick('{"atrest":{"sweep":true},"x":1}'))).toBeUndefined();
    expect(sweepTimer(tick('not json'))).toBeUndefined();
    expect(sweepTimer(JSON.parse(SWEEP))).toBeUndefined();
  });

  it('sweeps every logstore of its region: one outcome line each, then the summary; never throws', async () => {
    seedLogstores();

    const outcomes = await logstoreHandler()(Buffer.from(JSON.stringify(tick())), context());

    const count = (kind: string) => outcomes.filter((o) => o.outcome === kind).length;
    expect([count('applied'), count('compliant'), count('excluded'), count('failed')]).toEqual([3, 1, 1, 1]);
    expect(outcomes).toHaveLength(6);
    expect(sls.service.count({ action: 'UpdateLogStoreEncryption', ok: true })).toBe(3);
    expect(sls.state.logstore('app-logs', 'audit')?.encrypt_conf).toEqual({
      enable: true,
      encrypt_type: 'default',
    });
    expect(sls.state.logstore('scratch', 'tmp')?.encrypt_conf).toBeUndefined();
    expect(sls.state.logstore('sh-logs', 'elsewhere')?.encrypt_conf).toBeUndefined();
    expect(lines('outcome')).toHaveLength(6);
    expect(lines('outcome').find((l) => l.resource === 'app-logs/byok')).toMatchObject({
      level: 'ERROR',
      outcome: 'failed',
      error: { code: 'EncryptionImmutable' },
      requestId: 'fc-sweep-1',
    });
    expect(lines('outcome').find((l) => l.resource === 'app-logs/access')).toMatchObject({
      level: 'INFO',
      function: 'alicloud.logstore-encryption',
      eventId: 'sweep:app-logs/access',
      region: REGION,
      account: ACCOUNT,
      outcome: 'applied',
      attempts: 1,
      dryRun: false,
    });
    expect(lines('sweep')).toEqual([
      {
        level: 'INFO',
        message: 'sweep',
        function: 'alicloud.logstore-encryption',
        region: REGION,
        listed: 6,
        complete: true,
        counts: { applied: 3, compliant: 1, excluded: 1, failed: 1 },
        writes: 3,
        durationMs: expect.any(Number),
        resumed: false,
        willResume: false,
        requestId: 'fc-sweep-1',
      },
    ]);
  });

  it('a later sweep is new work (observed after the first completed): one read each, no write', async () => {
    seedLogstores();
    const handler = logstoreHandler();

    await handler(tick(), context());
    sls.service.resetLog();
    const again = await handler(tick(), context());

    expect(again.filter((o) => o.outcome === 'compliant')).toHaveLength(4);
    expect(again.filter((o) => o.outcome === 'duplicate')).toHaveLength(0);
    expect(sls.service.count({ write: true })).toBe(0);
  });

  it('sweeps the region of FC_REGION when the context names none', async () => {
    seedLogstores();
    const { region: _, ...noRegion } = context();

    const outcomes = await logstoreHandler({ env: { FC_REGION: 'cn-shanghai' } })(tick(), noRegion);

    expect(outcomes.map((o) => [o.resource, o.outcome])).toEqual([['sh-logs/elsewhere', 'applied']]);
  });

  it('paces reads and writes at ATREST_SWEEP_RATE (fake clock)', async () => {
    seedLogstores();
    const clock = fakeClock();
    const handler = logstoreHandler({
      env: { ATREST_SWEEP_RATE: '2' },
      now: clock.now,
      engine: { sleep: clock.sleep, random: () => 0.5 },
    });

    await handler(tick(), context());

    // Listing is not metered; every read and write took a token, 2 per second after the first.
    const metered = sls.service.count({ action: 'GetLogStore' }) + sls.service.count({ write: true });
    expect(metered).toBe(11);
    expect(clock.elapsed()).toBeGreaterThanOrEqual((metered - 1) * 500);
    expect(lines('sweep')[0]).toMatchObject({ complete: true, durationMs: clock.elapsed() });
  });

  it('stops starting resources SWEEP_RESERVE_MS before the timeout, finishes those in flight, and warns', async () => {
    for (let i = 0; i < 30; i++) sls.state.seedLogstore('bulk', `ls-${String(i).padStart(2, '0')}`);
    const clock = fakeClock();
    const handler = logstoreHandler({
      env: { ATREST_SWEEP_RATE: '1' },
      now: clock.now,
      engine: { sleep: clock.sleep, random: () => 0.5 },
    });

    const outcomes = await handler(tick(), context(60));

    const summary = lines('sweep')[0];
    expect(summary).toMatchObject({ level: 'WARN', complete: false, listed: outcomes.length });
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.length).toBeLessThan(30);
    expect(outcomes.every((o) => o.outcome === 'applied')).toBe(true);
    // Started only while more than the reserve was left, so even in-flight work ended in time.
    expect(clock.elapsed()).toBeGreaterThanOrEqual(60_000 - SWEEP_RESERVE_MS);
    expect(clock.elapsed()).toBeLessThan(60_000);
  });

  it('resumes the next tick where a sweep that ran out of time stopped, instead of from the top', async () => {
    for (let p = 0; p < 6; p++) for (let i = 0; i < 5; i++) sls.state.seedLogstore(`bulk-${p}`, `ls-${i}`);
    const clock = fakeClock();
    const handler = logstoreHandler({
      env: { ATREST_SWEEP_RATE: '1' },
      now: clock.now,
      engine: { sleep: clock.sleep, random: () => 0.5 },
    });

    const first = await handler(tick(), context(60));
    const firstSummary = lines('sweep')[0];
    const second = await handler(tick(), context(600));
    const secondSummary = lines('sweep')[1];

    expect(firstSummary).toMatchObject({ complete: false, resumed: false, willResume: true });
    expect(secondSummary).toMatchObject({ complete: true, resumed: true, willResume: false });
    // Together the two ticks cover all 30 logstores; the second did not start again at bulk-0.
    const covered = new Set([...first, ...second].map((o) => o.resource));
    expect(covered.size).toBe(30);
    expect(second.some((o) => o.resource === 'bulk-0/ls-0')).toBe(false);
  });

  it('logs a listing it may not make as one failed outcome at ERROR, without throwing', async () => {
    seedLogstores();
    sls.service.failNext('ListProject', { status: 403, code: 'Unauthorized', times: 1 });

    const outcomes = await logstoreHandler()(tick(), context());

    expect(outcomes).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        eventId: `sweep:${REGION}`,
        error: expect.objectContaining({ code: 'Unauthorized' }),
      }),
    ]);
    expect(lines('outcome')[0]).toMatchObject({ level: 'ERROR', outcome: 'failed' });
    expect(lines('sweep')[0]).toMatchObject({ level: 'WARN', complete: false, counts: { failed: 1 } });
  });

  it('hands any other timer payload to the remediator as before (rejected, thrown for the dead letter)', async () => {
    seedLogstores();

    const error = await logstoreHandler()(tick(''), context()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FcRemediationError);
    expect((error as FcRemediationError).outcomes.map((o) => o.outcome)).toEqual(['rejected']);
    expect(lines('sweep')).toEqual([]);
    expect(sls.service.calls).toHaveLength(0);
  });

  it('refuses a bad ATREST_SWEEP_RATE when the handler is built, naming the variable', () => {
    const make = (rate: string) => () => logstoreHandler({ env: { ATREST_SWEEP_RATE: rate } });

    expect(make('fast')).toThrow(ConfigError);
    expect(make('fast')).toThrow(/ATREST_SWEEP_RATE/);
    expect(make('0')).toThrow(/ATREST_SWEEP_RATE/);
    expect(make('101')).toThrow(/at most 100/);
  });
});

describe('FC scheduled sweep: alicloud.table-bucket-encryption against the OSS Tables emulator', () => {
  it('encrypts the unencrypted table buckets of its region, counts them in the summary', async () => {
    oss.state.seedBucket('lake-raw');
    oss.state.seedBucket('lake-curated', { encryption: { sseAlgorithm: 'AES256' } });
    oss.state.seedBucket('lake-tmp');
    oss.state.seedBucket('lake-sh', { region: 'cn-shanghai' });
    const handler = build(tableBucketOptions, {
      ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: oss.url,
      ATREST_CONFIG_JSON: JSON.stringify({ alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256' } } }),
    });

    const outcomes = await handler(tick(), context());

    expect(outcomes.map((o) => [o.resource, o.outcome]).sort()).toEqual([
      [`acs:osstables:${REGION}:${ACCOUNT}:bucket/lake-curated`, 'compliant'],
      [`acs:osstables:${REGION}:${ACCOUNT}:bucket/lake-raw`, 'applied'],
      [`acs:osstables:${REGION}:${ACCOUNT}:bucket/lake-tmp`, 'applied'],
    ]);
    expect(oss.service.count({ action: 'PutTableBucketEncryption', ok: true })).toBe(2);
    expect(
      oss.state.bucket(`acs:osstables:cn-shanghai:${ACCOUNT}:bucket/lake-sh`)?.encryption,
    ).toBeUndefined();
    expect(lines('sweep')[0]).toMatchObject({
      function: 'alicloud.table-bucket-encryption',
      listed: 3,
      complete: true,
      counts: { applied: 2, compliant: 1 },
      writes: 2,
    });
  });
});

describe('FC timer events the sweep leaves alone', () => {
  const KEY = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';

  it('disk-default-kms owns its timer: the deployed sweep payload still runs its per-region check', async () => {
    for (const region of [REGION, 'cn-beijing']) {
      ecs.state.seedRegion(region, { encrypted: true, kmsKeyId: ecs.state.serviceKeyId(region) });
      ecs.state.seedKey(region, KEY);
    }
    const config: Config = {
      alicloud: { diskDefaultKms: { kmsKeyId: KEY, regions: [REGION, 'cn-beijing'] } },
    };
    const handler = build(diskOptions, {
      ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
      ATREST_CONFIG_JSON: JSON.stringify(config),
    });

    const outcomes = await handler(tick(), context());

    expect(outcomes.map((o) => [o.eventId, o.region, o.outcome])).toEqual([
      ['timer:sweep@2026-11-22T03:00:00Z', REGION, 'applied'],
      ['timer:sweep@2026-11-22T03:00:00Z', 'cn-beijing', 'applied'],
    ]);
    expect(lines('sweep')).toEqual([]);
  });

  it('a remediator that cannot list answers the sweep payload with one ignored line, no throw', async () => {
    const unlisted: Remediator<Target, string, string> = {
      id: 'alicloud.cluster-kms',
      owns: () => false,
      parse: () => ({ kind: 'rejected', code: 'InvalidEvent', reason: 'not expected' }),
      desire: () => ({ kind: 'desired', desired: 'k', key: 'k' }),
      read: async () => ({ kind: 'found', state: 'k' }),
      evaluate: () => ({ kind: 'compliant' }),
      apply: async () => {},
      classify: (e) => e as NotReadyError,
    };
    const handler = createFcHandler({
      create: () => unlisted,
      env: { ATREST_CONFIG_JSON: JSON.stringify({ alicloud: { clusterKms: { kmsKeyId: 'k' } } }) },
      store: new MemoryIdempotencyStore(),
      log: (line) => logs.push(JSON.parse(line)),
    });

    const outcomes = await handler(tick(), context());

    expect(outcomes).toEqual([
      expect.objectContaining({ function: 'alicloud.cluster-kms', outcome: 'ignored', region: REGION }),
    ]);
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'outcome',
        outcome: 'ignored',
        requestId: 'fc-sweep-1',
      }),
    ]);
  });
});
