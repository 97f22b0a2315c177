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
      /^skip {2}alicloud\.cluster-kms@cn-hangzhou ack-rbac {2}.*atrest-cluster-kms-cn-hangzhou.*--ack-role-id/,
    );
    expect(rbac).toMatch(/fix: ACK console > Authorizations > RAM Roles/);
  });

  it('with --ack-role-id: FAIL for a cluster that grants the role nothing, ok once it is admin there', async () => {
    const cluster = 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b';
    const role = '3000000000000001';
    const flags = ['--alicloud-region', 'cn-hangzhou', '--aws-region', 'us-east-1', '--ack-role-id', role];
    const grant = (resource_id: string, resource_type: 'cluster' | 'namespace') => ({
      resource_id,
      resource_type,
      role_type: 'admin' as const,
      role_name: '',
      is_owner: 0 as const,
      is_ram_role: 1 as const,
    });
    // A namespace grant is not enough: UpdateKMSEncryption acts on the whole cluster.
    cloud.ack.permissions.set(role, [grant(`${cluster}/kube-system`, 'namespace')]);
    const before = await doctor(flags);

    expect(before.code).toBe(1);
    expect(before.lines.find((l) => l.includes(`ack-rbac ${cluster}`))).toMatch(
      new RegExp(
        `^FAIL {2}alicloud\\.cluster-kms@cn-hangzhou ack-rbac ${cluster} {2}role ${role} has no RBAC grant on cluster ${cluster}.*fix: ACK console`,
      ),
    );

    // Admin on every cluster of the region (the emulator seeds four).
    const clusters = [
      cluster,
      'c4a2f9b7c3d5e5f6a0b1c2d3e4f5a6b7c',
      'c5b3a0c8d4e6f6a7b1c2d3e4f5a6b7c8d',
      'c6c4b1d9e5f7a7b8c2d3e4f5a6b7c8d9e',
    ];
    cloud.ack.permissions.set(
      role,
      clusters.map((c) => grant(c, 'cluster')),
    );
    const after = await doctor(flags);
    expect(after.lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(after.code).toBe(0);
    expect(after.lines.find((l) => l.includes(`ack-rbac ${cluster}`))).toMatch(
      new RegExp(`^ok {4}.*role ${role} is admin on ${cluster}`),
    );
  });

  it('reads an all-clusters grant as covering every cluster, and flags a non-admin role for review', () => {
    const all = rbacChecks(
      'cn-hangzhou',
      'r',
      ['c1', 'c2'],
      [{ resource_id: 'all-clusters', role_type: 'admin' }],
    );
    expect(all.map((c) => c.status)).toEqual(['ok', 'ok']);
    expect(rbacChecks('cn-hangzhou', 'r', ['c1'], [{ resource_id: 'c1', role_type: 'ops' }])[0]?.status).toBe(
      'skip',
    );
    expect(rbacChecks('cn-hangzhou', 'r', [], [])[0]).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/no ACK cluster/),
    });
  });
});
