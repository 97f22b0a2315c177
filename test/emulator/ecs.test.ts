import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlicloudApi } from '../../functions/alicloud/openapi.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { type EcsEmulator, startEcs } from './ecs.ts';

let ecs: EcsEmulator;
let api: AlicloudApi;

const call = (action: string, query: Record<string, string>) =>
  api.rpc('ECS', 'cn-hangzhou', action, '2014-05-26', { RegionId: 'cn-hangzhou', ...query });
const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return undefined;
  } catch (error) {
    const e = error as { statusCode?: number; code?: string };
    return { status: e.statusCode, code: e.code };
  }
};

beforeAll(async () => {
  ecs = await startEcs();
  api = new AlicloudApi({
    credentials: () => EMULATOR_CREDENTIALS,
    env: { ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url },
  });
});
afterAll(() => ecs.stop());

describe('ECS emulator (default disk encryption)', () => {
  it('starts off, and enabling sets the region service key', async () => {
    const before = await call('DescribeDiskEncryptionByDefaultStatus', {});

    await call('EnableDiskEncryptionByDefault', {});
    const after = await call('DescribeDiskEncryptionByDefaultStatus', {});
    const key = await call('DescribeDiskDefaultKMSKeyId', {});

    expect(before.body.Encrypted).toBe(false);
    expect(after.body.Encrypted).toBe(true);
    expect(key.body.KMSKeyId).toBe('ecs-service-key-cn-hangzhou');
  });

  it('changes the key to a registered, enabled key', async () => {
    ecs.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'old' });
    ecs.state.seedKey('cn-hangzhou', 'key-new');

    await call('ModifyDiskDefaultKMSKeyId', { KMSKeyId: 'key-new' });

    expect(ecs.state.region('cn-hangzhou').kmsKeyId).toBe('key-new');
  });

  it.each([
    ['an unknown key', 'key-missing', { status: 403, code: 'InvalidOperation.KMSKeyIdNotFound' }],
    ['a disabled key', 'key-off', { status: 400, code: 'InvalidParameter.KMSKeyId.CMKNotEnabled' }],
  ])('refuses %s with the documented code', async (_what, key, expected) => {
    ecs.state.seedRegion('cn-hangzhou', { encrypted: true, kmsKeyId: 'old' });
    ecs.state.seedKey('cn-hangzhou', 'key-off', { enabled: false });

    const result = await failure(call('ModifyDiskDefaultKMSKeyId', { KMSKeyId: key }));

    expect(result).toEqual(expected);
    expect(ecs.state.region('cn-hangzhou').kmsKeyId).toBe('old');
  });

  it('refuses Modify while default encryption is off', async () => {
    ecs.state.seedRegion('cn-hangzhou', { encrypted: false });
    ecs.state.seedKey('cn-hangzhou', 'key-new');

    const result = await failure(call('ModifyDiskDefaultKMSKeyId', { KMSKeyId: 'key-new' }));

    expect(result).toEqual({ status: 403, code: 'InvalidDefaultEncryption.NotFound' });
  });
});
