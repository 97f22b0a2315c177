/**
 * `atrest doctor` with both clouds configured: each cloud takes its own regions, so an Alibaba
 * region is never checked for an AWS key (the false FAIL `--region` for both used to give), and
 * cluster-kms gets the ACK RBAC explanation. Real clients against the emulated services.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rbacChecks } from '../../functions/cli/doctor-ack-rbac.ts';
import { main } from '../../functions/cli/main.ts';
import { type OfflineCloud, startOfflineCloud } from '../emulator/offline.ts';
import { captureIo, writeConfig } from './helpers.ts';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1111aaaa-12ab-34cd-56ef-1234567890ab';
const CONFIG = {
  aws: { logGroupKms: { kmsKeyArn: KEY } },
  alicloud: { clusterKms: { kmsKeyId: 'key-good' } },
};

let cloud: OfflineCloud;
let env: Record<string, string>;
beforeAll(async () => {
  // Keys of the config, a logging trail and enabled rules per cloud: a deployed account.
  cloud = await startOfflineCloud(CONFIG);
  env = cloud.env;
  // The AWS SDK's default credential chain reads process.env, as it does in production.
  Object.assign(process.env, env);
});
afterAll(async () => {
  await cloud.stop();
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
