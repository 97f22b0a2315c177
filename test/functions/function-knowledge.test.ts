/**
 * Per-function knowledge lives in the function's folder (issue 12): the KMS keys its section
 * names (`keys`), the regions it serves (`regions`), its deploy prerequisites, key parameters and
 * role-id output (manifest). A throwaway sixth Alibaba Cloud function, registered the way a real
 * one is (one more export of functions/registry.ts, here through the module mock), gets the
 * doctor's key checks, the stack's notes, parameter and output, and the CLI's default regions,
 * with no edit outside its own definition below.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ros from '@alicloud/ros-cdk-core';
import { afterAll, describe, expect, it, vi } from 'vitest';

const SIXTH = 'alicloud.snapshot-kms';
const NOTE = 'alicloud.snapshot-kms: the snapshot service role must be authorized once (throwaway note).';

vi.mock('../../functions/registry.ts', async (importOriginal) => {
  const z = await import('zod/mini');
  const { defineSection, aliRegionMap } = await import('../../functions/core/config.ts');
  /** What its folder's config.ts would hold. */
  const snapshotKmsConfig = defineSection({
    cloud: 'alicloud',
    section: 'snapshotKms',
    schema: () =>
      z.strictObject({
        kmsKeyId: z.string().check(z.minLength(1)),
        byRegion: z.optional(aliRegionMap(z.string().check(z.minLength(1)))),
      }),
    regions: (section) => Object.keys(section.byRegion ?? {}),
    starter: ({ alicloudKey }: { alicloudKey?: string }) => ({ kmsKeyId: alicloudKey ?? 'none' }),
    summary: () => 'new snapshots get your key',
    keys: (section, regions) => {
      const own = Object.entries(section.byRegion ?? {}).map(([region, key]) => ({
        field: `alicloud.snapshotKms.byRegion.${region}`,
        key,
        region,
        need: 'aes256' as const,
      }));
      const rest = regions.filter((r) => section.byRegion?.[r] === undefined);
      return [
        ...own,
        ...(rest.length > 0
          ? rest.map((region) => ({ field: 'alicloud.snapshotKms.kmsKeyId', key: section.kmsKeyId, region }))
          : [{ field: 'alicloud.snapshotKms.kmsKeyId', key: section.kmsKeyId }]),
      ];
    },
  });
  /** What its manifest.ts would hold. */
  const manifest = {
    id: 'alicloud.snapshot-kms',
    cloud: 'alicloud',
    folder: 'snapshot-kms',
    section: 'snapshotKms',
    config: snapshotKmsConfig,
    events: { creation: ['CreateSnapshot'], tamper: [] },
    trigger: { eventNames: ['CreateSnapshot'] },
    prerequisites: [
      'alicloud.snapshot-kms: the snapshot service role must be authorized once (throwaway note).',
    ],
    keyParameters: [{ name: 'SnapshotKmsKeyId', path: ['kmsKeyId'] }],
    roleIdOutput: 'SnapshotKmsRoleId',
    remediator: async () => {
      throw new Error('not run here');
    },
  };
  return { ...(await importOriginal<object>()), f06: manifest };
});

const { alicloudKeyUses } = await import('../../functions/cli/doctor-alicloud.ts');
const { parseConfig } = await import('../../functions/config.ts');
const { planUnits } = await import('../../functions/cli/units.ts');
const { judgeRules } = await import('../../functions/cli/doctor-alicloud-delivery.ts');
const { init } = await import('../../functions/cli/init.ts');
const { AtrestAlicloudStack } = await import('../../infra/alicloud/atrest-stack.ts');
const { REPO_ROOT } = await import('../../infra/functions.ts');

const EXAMPLE = JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'example-config.json'), 'utf8'));
const SECTION = { kmsKeyId: 'key-default', byRegion: { 'cn-beijing': 'key-bj' } };

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

describe('a sixth function brings its own keys, regions and deploy notes', () => {
  it('has its keys checked by the doctor, in its own regions and the named ones, with its fields', () => {
    const config = parseConfig({ alicloud: { snapshotKms: SECTION } });

    const { uses, problems } = alicloudKeyUses(config.alicloud ?? {}, ['cn-shanghai']);

    expect(problems).toEqual([]);
    expect(uses.map((u) => `${u.fn}@${u.region}:${u.keyId}:${u.need}:${u.field}`)).toEqual([
      `${SIXTH}@cn-beijing:key-bj:aes256:alicloud.snapshotKms.byRegion.cn-beijing`,
      `${SIXTH}@cn-shanghai:key-default:symmetric:alicloud.snapshotKms.kmsKeyId`,
    ]);
  });

  it('has the doctor say to name a region when its default key has none', () => {
    const config = parseConfig({ alicloud: { snapshotKms: { kmsKeyId: 'key-default' } } });

    const { uses, problems } = alicloudKeyUses(config.alicloud ?? {}, []);

    expect(uses).toEqual([]);
    expect(problems).toEqual([
      expect.objectContaining({
        status: 'FAIL',
        check: `${SIXTH} key-region`,
        detail: expect.stringContaining('alicloud.snapshotKms.kmsKeyId (key-default)'),
      }),
    ]);
  });

  it("has a missing EventBridge rule FAIL, unless its manifest says why none is expected (logstore's)", () => {
    const checks = judgeRules('cn-hangzhou', ['alicloud.logstore-encryption', SIXTH as never], [], 0);

    expect(checks.slice(0, 2)).toEqual([
      {
        status: 'skip',
        check: 'alicloud.logstore-encryption@cn-hangzhou rule',
        detail:
          "no EventBridge rule for CreateLogStore; SLS events are not in EventBridge's ActionTrail list, the trail path (and the daily sweep) cover them",
      },
      {
        status: 'FAIL',
        check: `${SIXTH}@cn-hangzhou rule`,
        detail: 'no rule on the default bus of cn-hangzhou filters CreateSnapshot',
        fix: 'deploy the ROS stack to cn-hangzhou (see "Deploying"): its EventBridge trigger creates the rule',
      },
    ]);
  });

  it('is written by atrest init from its own starter, with its own guidance line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atrest-init-'));
    outdirs.push(dir);
    const lines: string[] = [];
    const out = join(dir, 'atrest.json');

    const status = init({
      out,
      awsKeys: [],
      alicloudKey: 'key-1',
      alicloudRegions: [],
      functions: [SIXTH],
      force: false,
      err: (line) => lines.push(line),
    });

    expect(status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
      alicloud: { snapshotKms: { kmsKeyId: 'key-1' } },
    });
    expect(lines).toContain('  alicloud.snapshotKms   new snapshots get your key');
  });

  it('sweeps the regions its section names when no --region is given', async () => {
    const config = parseConfig({ alicloud: { snapshotKms: SECTION } });

    const units = await planUnits(
      [SIXTH],
      { org: false, accounts: [], regions: [] },
      config,
      {},
      {
        access: {} as never,
        listAccounts: async () => [],
      },
    );

    expect(units.map((u) => u.region)).toEqual(['cn-beijing']);
  });

  it('puts its prerequisite, its key parameter and its role-id output in the stack', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'atrest-ros-'));
    outdirs.push(outdir);
    const app = new ros.App({ outdir });
    new AtrestAlicloudStack(app, 'Atrest', {
      config: { ...EXAMPLE, alicloud: { ...EXAMPLE.alicloud, snapshotKms: SECTION } },
      permissions: new Map([
        [
          SIXTH,
          {
            cloud: 'alicloud',
            statements: [
              {
                actions: ['ecs:DescribeSnapshots'],
                resources: ['acs:ecs:{region}:{account}:*'],
                why: 'read',
              },
            ],
          },
        ],
      ]) as never,
      functions: [SIXTH as never],
      alarmEmail: 'oncall@example.com',
    });
    const template = app.synth().getStackByName('Atrest').template as {
      Metadata: { atrest: { Prerequisites: string[] } };
      Parameters: Record<string, { Default?: string }>;
      Outputs: Record<string, unknown>;
    };

    expect(template.Metadata.atrest.Prerequisites).toContain(NOTE);
    expect(template.Parameters.SnapshotKmsKeyId?.Default).toBe('key-default');
    expect(Object.keys(template.Outputs)).toContain('SnapshotKmsRoleId');
  });
});
