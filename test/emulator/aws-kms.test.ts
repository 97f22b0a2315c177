import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsKmsState, rootOnlyKeyPolicy, startAwsKms } from './aws-kms.ts';
import type { EmulatedService } from './harness.ts';
import { DUMMY_CREDENTIALS } from './sigv4.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const RSA = 'arn:aws:kms:us-east-1:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab';

let service: EmulatedService;
let state: AwsKmsState;
const client = (region = 'us-east-1', secretAccessKey: string = DUMMY_CREDENTIALS.secretAccessKey) =>
  new KMSClient({
    region,
    endpoint: service.url,
    credentials: { accessKeyId: DUMMY_CREDENTIALS.accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });

beforeAll(async () => {
  ({ service, state } = await startAwsKms());
  state
    .seedKey({ arn: KEY })
    .seedKey({ arn: RSA, keySpec: 'RSA_2048', state: 'Disabled', policy: rootOnlyKeyPolicy('111122223333') });
});
afterAll(() => service.stop());

describe('AWS KMS emulator (DescribeKey, GetKeyPolicy)', () => {
  it('describes a key by ARN or id with its state, spec and usage', async () => {
    const byArn = await client().send(new DescribeKeyCommand({ KeyId: RSA }));
    const byId = await client().send(
      new DescribeKeyCommand({ KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' }),
    );

    expect(byArn.KeyMetadata).toMatchObject({
      Arn: RSA,
      KeyState: 'Disabled',
      KeySpec: 'RSA_2048',
      Enabled: false,
    });
    expect(byId.KeyMetadata).toMatchObject({ Arn: KEY, KeyState: 'Enabled', KeyUsage: 'ENCRYPT_DECRYPT' });
    expect(byId.KeyMetadata?.CreationDate).toBeInstanceOf(Date);
  });

  it('returns the seeded policy; the default one lets CloudWatch Logs of the key region in', async () => {
    const out = await client().send(new GetKeyPolicyCommand({ KeyId: KEY, PolicyName: 'default' }));

    expect(JSON.parse(out.Policy ?? '{}').Statement[1].Principal).toEqual({
      Service: 'logs.us-east-1.amazonaws.com',
    });
  });

  it('does not find a key from another region, nor an unknown one (NotFoundException)', async () => {
    const otherRegion = await client('eu-west-1')
      .send(new DescribeKeyCommand({ KeyId: KEY }))
      .catch((e) => e);
    const unknown = await client()
      .send(new DescribeKeyCommand({ KeyId: 'nope' }))
      .catch((e) => e);

    expect(otherRegion).toMatchObject({ name: 'NotFoundException' });
    expect(unknown).toMatchObject({ name: 'NotFoundException' });
  });

  it('refuses a request signed with the wrong secret', async () => {
    const error = await client('us-east-1', 'wrong')
      .send(new DescribeKeyCommand({ KeyId: KEY }))
      .catch((e) => e);

    expect(error).toMatchObject({ name: 'InvalidSignatureException' });
  });
});
