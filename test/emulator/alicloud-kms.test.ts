import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlicloudApi } from '../../functions/alicloud/openapi.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { type AlicloudKmsEmulator, startAlicloudKms } from './alicloud-kms.ts';

let kms: AlicloudKmsEmulator;
const describeKey = (keyId: string, secret = EMULATOR_CREDENTIALS.accessKeySecret) => {
  const api = new AlicloudApi({
    credentials: () => ({ accessKeyId: EMULATOR_CREDENTIALS.accessKeyId, accessKeySecret: secret }),
    env: { ALIBABA_CLOUD_ENDPOINT_KMS: kms.url },
  });
  // AlicloudApi.rpc is typed for ECS; its endpoint lookup knows KMS (see functions/cli/doctor-alicloud.ts).
  return api.rpc('KMS' as 'ECS', 'cn-hangzhou', 'DescribeKey', '2016-01-20', { KeyId: keyId });
};
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: { code?: string; statusCode?: number }) => ({ code: e.code, status: e.statusCode }),
  );

beforeAll(async () => {
  kms = await startAlicloudKms({ region: 'cn-hangzhou' });
  kms.state.seedKey({ keyId: 'key-a' }).seedKey({ keyId: 'key-b', state: 'Disabled', keySpec: 'Aliyun_SM4' });
});
afterAll(() => kms.stop());

describe('Alibaba Cloud KMS emulator (DescribeKey)', () => {
  it('describes a key by id or ARN with state, spec and usage', async () => {
    const a = await describeKey('key-a');
    const b = await describeKey(kms.state.arnOf('key-b'));

    expect(a.body.KeyMetadata).toMatchObject({
      KeyId: 'key-a',
      KeyState: 'Enabled',
      KeySpec: 'Aliyun_AES_256',
      KeyUsage: 'ENCRYPT/DECRYPT',
    });
    expect(b.body.KeyMetadata).toMatchObject({ KeyId: 'key-b', KeyState: 'Disabled', KeySpec: 'Aliyun_SM4' });
  });

  it('answers an unknown key with 404 Forbidden.KeyNotFound', async () => {
    expect(await failure(describeKey('key-none'))).toEqual({ code: 'Forbidden.KeyNotFound', status: 404 });
  });

  it('refuses a request signed with the wrong secret', async () => {
    expect(await failure(describeKey('key-a', 'wrong'))).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });
});
