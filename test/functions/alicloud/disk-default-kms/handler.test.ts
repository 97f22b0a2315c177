/**
 * alicloud.disk-default-kms end to end at the wire: the FC adapter, the remediator and the real
 * @alicloud/openapi-client against the ECS emulator (ACS3 signatures checked).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { handlerOptions } from '../../../../functions/alicloud/disk-default-kms/handler.ts';
import { createFcHandler, type FcContext, FcRemediationError } from '../../../../functions/alicloud/fc.ts';
import type { Config } from '../../../../functions/config.ts';
import { EMULATOR_CREDENTIALS } from '../../../emulator/acs3.ts';
import { type EcsEmulator, startEcs } from '../../../emulator/ecs.ts';

const ACCOUNT = '1234567890123456';
const REGION = 'cn-hangzhou';
const KEY = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const DRIFT_KEY = '0e478b7a-4262-4802-b8cb-00d3fb40beef';
const CONFIG: Config = { alicloud: { diskDefaultKms: { kmsKeyId: KEY, regions: [REGION, 'cn-beijing'] } } };
const context: FcContext = {
  requestId: 'fc-req-2',
  function: { name: 'atrest-disk-default-kms', timeout: 60 },
  region: REGION,
  accountId: ACCOUNT,
};
const sample = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../../../events/alicloud/disk-default-kms/${name}`, import.meta.url), 'utf8'),
  );
/** The Modify event our own write produces: it set the desired key. */
const ownModify = () => {
  const event = sample('modify-disk-default-kms-key-id.json');
  event.id = 'own-write-event';
  event.data.eventId = 'OWN-WRITE';
  event.data.requestParameters.KMSKeyId = KEY;
  return event;
};

let ecs: EcsEmulator;
let logs: string[];
let store: MemoryIdempotencyStore;
/** Simulated clock of the store: each delivery arrives 2 s after the call or tick it reports. */
let clock = 0;
const arrive = (event: { data?: { eventTime?: string }; triggerTime?: string }) => {
  const at = Date.parse(event.data?.eventTime ?? event.triggerTime ?? '');
  if (Number.isFinite(at)) clock = at + 2_000;
};

const run = async (
  event: unknown,
  config: Config = CONFIG,
): Promise<{ outcomes: Outcome[]; threw: boolean }> => {
  arrive(event as Parameters<typeof arrive>[0]);
  const handler = createFcHandler(
    handlerOptions({
      env: {
        ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
        ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
        ATREST_CONFIG_JSON: JSON.stringify(config),
      },
      store,
      engine: { sleep: async () => {}, random: () => 0.5 },
      log: (line) => logs.push(line),
    }),
  );
  try {
    return { outcomes: await handler(Buffer.from(JSON.stringify(event)), context), threw: false };
  } catch (error) {
    if (error instanceof FcRemediationError) return { outcomes: error.outcomes, threw: true };
    throw error;
  }
};
const count = (action: string) => ecs.service.count({ action });
const writes = () => ecs.service.count({ write: true });

beforeAll(async () => {
  ecs = await startEcs();
});
afterAll(() => ecs.stop());
beforeEach(() => {
  ecs.service.resetLog();
  ecs.service.clearFaults();
  for (const region of [REGION, 'cn-beijing']) {
    ecs.state.seedRegion(region, { encrypted: true, kmsKeyId: ecs.state.serviceKeyId(region) });
    ecs.state.seedKey(region, KEY);
    ecs.state.seedKey(region, DRIFT_KEY);
  }
  logs = [];
  store = new MemoryIdempotencyStore(() => clock);
});

describe('alicloud.disk-default-kms through the emulator', () => {
  it('applied: someone enabled default encryption (service key); the configured key is set and read back', async () => {
    const { outcomes, threw } = await run(sample('enable-disk-encryption-by-default.json'));

    expect(threw).toBe(false);
    expect(outcomes).toEqual([
      expect.objectContaining({
        function: 'alicloud.disk-default-kms',
        resource: `acs:ecs:${REGION}:${ACCOUNT}:disk-default-encryption`,
        outcome: 'applied',
        attempts: 1,
      }),
    ]);
    expect(ecs.state.region(REGION).kmsKeyId).toBe(KEY);
    // read = 2 calls, write = 1, verify = 2
    expect([
      count('DescribeDiskEncryptionByDefaultStatus'),
      count('DescribeDiskDefaultKMSKeyId'),
      writes(),
    ]).toEqual([2, 2, 1]);
  });

  it('applied: drift to another key is put back', async () => {
    ecs.state.seedRegion(REGION, { encrypted: true, kmsKeyId: DRIFT_KEY });

    const { outcomes } = await run(sample('modify-disk-default-kms-key-id.json'));

    expect(outcomes[0]?.outcome).toBe('applied');
    expect(ecs.state.region(REGION).kmsKeyId).toBe(KEY);
  });

  it('compliant: the Modify event of our own write costs one read pair and no write', async () => {
    await run(sample('enable-disk-encryption-by-default.json'));
    ecs.service.resetLog();

    const { outcomes } = await run(ownModify());

    expect(outcomes[0]?.outcome).toBe('compliant');
    expect(ecs.service.calls.map((c) => c.action)).toEqual([
      'DescribeDiskEncryptionByDefaultStatus',
      'DescribeDiskDefaultKMSKeyId',
    ]);
  });

  it('excluded: default encryption is off and enableIfDisabled is not set (one call)', async () => {
    ecs.state.seedRegion(REGION, { encrypted: false });

    const { outcomes } = await run(sample('modify-disk-default-kms-key-id.json'));

    expect(outcomes[0]).toMatchObject({
      outcome: 'excluded',
      reason: 'default disk encryption is off; set enableIfDisabled',
    });
    expect(ecs.service.calls).toHaveLength(1);
  });

  it('applied with enableIfDisabled: enables, then sets the key; a retried Modify does not enable twice', async () => {
    ecs.state.seedRegion(REGION, { encrypted: false });
    ecs.service.failNext('ModifyDiskDefaultKMSKeyId', { status: 503, code: 'ServiceUnavailable', times: 1 });
    const config: Config = { alicloud: { diskDefaultKms: { kmsKeyId: KEY, enableIfDisabled: true } } };

    const { outcomes } = await run(sample('modify-disk-default-kms-key-id.json'), config);

    expect(outcomes[0]).toMatchObject({ outcome: 'applied', attempts: 2 });
    expect(ecs.state.region(REGION)).toEqual({ encrypted: true, kmsKeyId: KEY });
    expect(count('EnableDiskEncryptionByDefault')).toBe(1);
  });

  it('timer: one outcome per configured region, the account from the FC context', async () => {
    ecs.state.seedRegion('cn-beijing', { encrypted: true, kmsKeyId: KEY });

    const { outcomes } = await run(sample('timer.json'));

    expect(outcomes.map((o) => [o.region, o.outcome, o.account])).toEqual([
      [REGION, 'applied', ACCOUNT],
      ['cn-beijing', 'compliant', ACCOUNT],
    ]);
  });

  it('timer: each tick is new work, a re-delivered tick is a duplicate', async () => {
    const tick = sample('timer.json');
    const next = { ...tick, triggerTime: '2026-11-22T18:00:00Z' }; // the next 6-hourly tick

    const first = await run(tick);
    const again = await run(tick);
    const later = await run(next);

    expect(first.outcomes.map((o) => o.outcome)).toEqual(['applied', 'applied']);
    expect(again.outcomes.map((o) => o.outcome)).toEqual(['duplicate', 'duplicate']);
    expect(later.outcomes.map((o) => o.outcome)).toEqual(['compliant', 'compliant']);
    expect(writes()).toBe(2);
  });

  it('ignored: a failed call, and a function that is not configured', async () => {
    const failed = sample('enable-disk-encryption-by-default.json');
    failed.data.errorCode = 'UserNotInTheWhiteList';

    const a = await run(failed);
    const b = await run(sample('enable-disk-encryption-by-default.json'), {});

    expect(a.outcomes[0]?.outcome).toBe('ignored');
    expect(b.outcomes[0]).toMatchObject({
      outcome: 'ignored',
      reason: 'alicloud.disk-default-kms is not configured',
    });
    expect(ecs.service.calls).toHaveLength(0);
  });

  it.each([
    [
      'a disabled key',
      () => ecs.state.seedKey(REGION, KEY, { enabled: false }),
      'InvalidParameter.KMSKeyId.CMKNotEnabled',
    ],
    [
      'an unknown key',
      () => ecs.state.seedKey(REGION, 'unrelated'),
      'InvalidOperation.KMSKeyIdNotFound',
      { alicloud: { diskDefaultKms: { kmsKeyId: 'key-nobody-made' } } } as Config,
    ],
    [
      'ECS refusing the caller',
      () =>
        ecs.service.failNext('ModifyDiskDefaultKMSKeyId', { status: 403, code: 'Forbidden.RAM', times: 1 }),
      'Forbidden.RAM',
    ],
    [
      'an account outside the whitelist',
      () =>
        ecs.service.failNext('ModifyDiskDefaultKMSKeyId', {
          status: 403,
          code: 'UserNotInTheWhiteList',
          times: 1,
        }),
      'UserNotInTheWhiteList',
    ],
    [
      'ECS not allowed to use the key',
      () =>
        ecs.service.failNext('ModifyDiskDefaultKMSKeyId', {
          status: 403,
          code: 'InvalidParameter.KMSKeyId.KMSUnauthorized',
          times: 1,
        }),
      'InvalidParameter.KMSKeyId.KMSUnauthorized',
    ],
  ])('failed after one attempt: %s', async (_what, prepare, code, config?: Config) => {
    prepare();

    const { outcomes, threw } = await run(sample('enable-disk-encryption-by-default.json'), config);

    expect(threw).toBe(true);
    expect(outcomes[0]).toMatchObject({ outcome: 'failed', attempts: 1, error: { code } });
    expect(count('ModifyDiskDefaultKMSKeyId')).toBe(1);
  });

  it('a RAM role refused by ModifyDiskDefaultKMSKeyId: the failed outcome says only the account may call it, and the fix', async () => {
    ecs.service.failNext('ModifyDiskDefaultKMSKeyId', { status: 403, code: 'Forbidden.RAM', times: 1 });

    const { outcomes } = await run(sample('enable-disk-encryption-by-default.json'));

    expect(outcomes[0]).toMatchObject({ outcome: 'failed', error: { code: 'Forbidden.RAM' } });
    expect(outcomes[0]?.error?.message).toContain('can only be called by Alibaba Cloud accounts');
    expect(outcomes[0]?.error?.message).toContain(`fix: set the key once with the account's own credentials`);
  });

  it('a key ECS may not use is not blamed on the caller', async () => {
    ecs.service.failNext('ModifyDiskDefaultKMSKeyId', {
      status: 403,
      code: 'InvalidParameter.KMSKeyId.KMSUnauthorized',
      times: 1,
    });

    const { outcomes } = await run(sample('enable-disk-encryption-by-default.json'));

    expect(outcomes[0]?.error?.message).not.toContain('Alibaba Cloud accounts');
  });

  it('retries throttling on the reads and a 5xx on the write', async () => {
    ecs.service.failNext('DescribeDiskEncryptionByDefaultStatus', {
      status: 400,
      code: 'Throttling.User',
      times: 2,
    });
    ecs.service.failNext('ModifyDiskDefaultKMSKeyId', { status: 500, code: 'InternalError', times: 1 });

    const { outcomes } = await run(sample('enable-disk-encryption-by-default.json'));

    expect(outcomes[0]).toMatchObject({ outcome: 'applied', attempts: 2 });
    expect(ecs.service.count({ ok: false })).toBe(3);
  });

  it('duplicate: the same event twice writes once', async () => {
    const event = sample('modify-disk-default-kms-key-id.json');

    const both = await Promise.all([run(event), run(event)]);

    expect(both.map((r) => r.outcomes[0]?.outcome).sort()).toEqual(['applied', 'duplicate']);
    expect(writes()).toBe(1);
  });

  it('rejected: a malformed CloudEvent never reaches ECS', async () => {
    const event = sample('modify-disk-default-kms-key-id.json');
    event.data.acsRegion = 'not a region';

    const { outcomes, threw } = await run(event);

    expect(outcomes[0]).toMatchObject({ outcome: 'rejected', error: { code: 'InvalidEvent' } });
    expect(threw).toBe(true);
    expect(ecs.service.calls).toHaveLength(0);
  });
});
