/**
 * `atrest doctor` with both clouds configured: each cloud takes its own regions, so an Alibaba
 * region is never checked for an AWS key (the false FAIL `--region` for both used to give), and
 * cluster-kms gets the ACK RBAC explanation. Real KMS clients against the emulated KMS services.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { type AlicloudKmsEmulator, startAlicloudKms } from '../emulator/alicloud-kms.ts';
import { startAwsKms } from '../emulator/aws-kms.ts';
import type { EmulatedService } from '../emulator/harness.ts';
import { DUMMY_CREDENTIALS } from '../emulator/sigv4.ts';
import { captureIo, writeConfig } from './helpers.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1111aaaa-12ab-34cd-56ef-1234567890ab';
const CONFIG = {
  aws: { logGroupKms: { kmsKeyArn: KEY } },
  alicloud: { clusterKms: { kmsKeyId: 'key-good' } },
};

let kms: EmulatedService;
let aliKms: AlicloudKmsEmulator;
let env: Record<string, string>;
beforeAll(async () => {
  const aws = await startAwsKms();
  kms = aws.service;
  aws.state.seedKey({ arn: KEY });
  aliKms = await startAlicloudKms({ region: 'cn-hangzhou' });
  aliKms.state.seedKey({ keyId: 'key-good' });
  env = {
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
    ALIBABA_CLOUD_ENDPOINT_KMS: aliKms.url,
  };
  // The AWS SDK's default credential chain reads process.env, as it does in production.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
  });
});
afterAll(async () => {
  await kms.stop();
  await aliKms.stop();
});

const doctor = async (flags: string[]) => {
  const io = captureIo(env);
  const code = await main(['doctor', '--config', writeConfig(CONFIG), ...flags], io);
  return { code, lines: io.stdout };
};

describe('atrest doctor: regions per cloud', () => {
  it.each([
    [['--aws-region', 'us-east-1', '--alicloud-region', 'cn-hangzhou']],
    [['--region', 'us-east-1', '--region', 'cn-hangzhou']],
  ])('%j: no FAIL, each region checked in its own cloud only', async (flags) => {
    const { code, lines } = await doctor(flags);

    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(code).toBe(0);
    expect(lines.some((l) => l.includes('aws.log-group-kms@cn-hangzhou'))).toBe(false);
    expect(lines.some((l) => l.includes('alicloud.cluster-kms@us-east-1'))).toBe(false);
    expect(lines.some((l) => /^ok {4}alicloud\.cluster-kms@cn-hangzhou/.test(l))).toBe(true);
  });

  it('explains the ACK RBAC grant each cluster needs, naming the role and where to grant it', async () => {
    const { lines } = await doctor(['--alicloud-region', 'cn-hangzhou']);
    const rbac = lines.find((l) => l.includes('ack-rbac'));

    expect(rbac).toMatch(
      /^skip {2}alicloud\.cluster-kms@cn-hangzhou ack-rbac {2}.*atrest-cluster-kms-cn-hangzhou/,
    );
    expect(rbac).toMatch(/fix: ACK console > Authorizations > RAM Roles/);
  });
});
