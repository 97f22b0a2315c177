// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected values are ROS Fn::Sub strings.
/**
 * The Resource Directory deployment (infra/alicloud/organization.ts): the member role trusts only
 * the central functions' RAM roles and holds exactly their actions (less the central self-invoke);
 * the stack group deploys that very template, service-managed, auto-deployed; the trail is
 * multi-account and writes to an SLS project of the management account.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ros from '@alicloud/ros-cdk-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import type { PermissionSet } from '../../functions/core/permissions.ts';
import { ALICLOUD_FUNCTION_IDS } from '../../infra/alicloud/atrest-stack.ts';
import {
  type AlicloudOrganizationSettings,
  AtrestAlicloudMemberStack,
  addAlicloudOrganization,
  DEFAULT_TRAIL_NAME,
} from '../../infra/alicloud/organization.ts';
import { type FunctionId, REPO_ROOT } from '../../infra/functions.ts';
import { loadAllPermissions } from '../../infra/permissions.ts';

// biome-ignore lint/suspicious/noExplicitAny: synthesised template JSON, navigated by the assertions.
type Json = any;
const CONFIG = JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'example-config.json'), 'utf8'));
const FOLDERS = ['fd-AbCd1234', 'fd-EfGh5678'];

let permissions: Map<FunctionId, PermissionSet>;
let member: Json;
let org: Json;

function synth(context: Record<string, string>, roleName?: string) {
  const app = new ros.App();
  const settings = addAlicloudOrganization(app, (k) => context[k], roleName, permissions);
  const assembly = app.synth();
  return {
    settings,
    member: assembly.getStackByName('AtrestMember').template as Json,
    org: assembly.getStackByName('AtrestOrg').template as Json,
  };
}

beforeAll(async () => {
  permissions = await loadAllPermissions(ALICLOUD_FUNCTION_IDS, parseConfig(CONFIG));
  ({ member, org } = synth({ rdFolderIds: FOLDERS.join(','), homeRegion: 'cn-shanghai' }, 'atrest-member'));
});

describe('member role (ROS stack group template)', () => {
  it('is trusted only by the four central function roles of the home region, in the central account', () => {
    const role = member.Resources.MemberRole;
    expect(role.Type).toBe('ALIYUN::RAM::Role');
    expect(role.Properties.RoleName).toBe('atrest-member');
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '1',
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: {
            RAM: ALICLOUD_FUNCTION_IDS.map((id) => ({
              'Fn::Sub': [
                `acs:ram::\${CentralAccountId}:role/atrest-${id.split('.')[1]}-cn-shanghai`,
                { CentralAccountId: { Ref: 'CentralAccountId' } },
              ],
            })),
          },
        },
      ],
    });
  });

  it('holds exactly the functions’ actions from permissions.ts, less the central self-invoke, on this account in any region', () => {
    const statements = member.Resources.MemberRole.Properties.Policies.flatMap(
      (p: Json) => p.PolicyDocument.Statement,
    ) as Array<{ Action: string[]; Resource: Json[]; Effect: string }>;
    const expected = [...permissions.values()]
      .flatMap((set) => set.statements.flatMap((s) => s.actions))
      .filter((a) => a !== 'fc:InvokeFunction')
      .sort();
    expect(statements.flatMap((s) => s.Action).sort()).toEqual(expected);
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    expect(statements.find((s) => s.Action.includes('cs:UpdateKMSEncryption'))?.Resource).toEqual([
      { 'Fn::Sub': 'acs:cs:*:${ALIYUN::AccountId}:cluster/*' },
    ]);
    // Not the broad ResourceDirectoryAccountAccessRole, no system policy attached.
    expect(JSON.stringify(member)).not.toMatch(/ResourceDirectoryAccountAccessRole|AdministratorAccess/);
    expect(Object.values(member.Resources).map((r: Json) => r.Type)).toEqual(['ALIYUN::RAM::Role']);
  });
});

describe('organization stack (management or delegated administrator account)', () => {
  it('a service-managed, auto-deploying stack group deploys exactly the member template to the chosen folders, home region only', () => {
    const group = org.Resources.MemberStackGroup;
    expect(group.Type).toBe('ALIYUN::ROS::StackGroup');
    expect(group.Properties).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Parameters: { CentralAccountId: { 'Fn::Sub': '${ALIYUN::AccountId}' } },
    });
    expect(group.Properties.TemplateBody).toEqual(member);
    expect(org.Resources.MemberStackInstances.Properties).toEqual({
      StackGroupName: group.Properties.StackGroupName,
      RegionIds: ['cn-shanghai'],
      DeploymentTargets: { RdFolderIds: FOLDERS },
    });
  });

  it('a multi-account ActionTrail trail of write events in every region, into an SLS project, logging on', () => {
    expect(org.Resources.Trail.Properties).toEqual({
      Name: DEFAULT_TRAIL_NAME,
      EventRW: 'Write',
      TrailRegion: 'All',
      IsOrganizationTrail: true,
      SlsProjectArn: {
        'Fn::Sub': `acs:log:\${ALIYUN::Region}:\${ALIYUN::AccountId}:project/${DEFAULT_TRAIL_NAME}-\${ALIYUN::AccountId}`,
      },
      SlsWriteRoleArn: { 'Fn::Sub': 'acs:ram::${ALIYUN::AccountId}:role/aliyunserviceroleforactiontrail' },
    });
    expect(org.Resources.TrailLogging.Properties).toEqual({ Name: DEFAULT_TRAIL_NAME, Enable: true });
    expect(org.Outputs.TrailLogstore.Value).toBe(`actiontrail_${DEFAULT_TRAIL_NAME}`);
  });

  it('orders creation in the template itself: project, trail, logging; stack group, instances', () => {
    const project = Object.entries(org.Resources as Record<string, { Type: string }>).find(
      ([, r]) => r.Type === 'ALIYUN::SLS::Project',
    )?.[0];
    expect(project).toBeDefined();
    expect([org.Resources.Trail.DependsOn].flat()).toContain(project);
    expect([org.Resources.TrailLogging.DependsOn].flat()).toContain('Trail');
    expect([org.Resources.MemberStackInstances.DependsOn].flat()).toContain('MemberStackGroup');
  });
});

describe('settings', () => {
  it('without rdFolderIds nothing is added (single-account deployments are unchanged)', () => {
    const app = new ros.App();
    expect(addAlicloudOrganization(app, () => undefined, undefined, permissions)).toBeUndefined();
    expect(app.node.children.filter((c) => c instanceof ros.Stack)).toHaveLength(0);
  });

  it.each([
    [{ rdFolderIds: '' }, /folderIds: name at least one/],
    [{ rdFolderIds: 'folder-1' }, /"folder-1" is not fd-/],
  ])('%j fails synth naming the setting', (context, message) => {
    expect(() => synth(context)).toThrow(ConfigError);
    expect(() => synth(context)).toThrow(message);
  });

  it('a role name RAM would refuse fails synth', () => {
    const settings: AlicloudOrganizationSettings = {
      memberRoleName: 'bad name!',
      folderIds: FOLDERS,
      homeRegion: 'cn-hangzhou',
    };
    expect(() => new AtrestAlicloudMemberStack(new ros.App(), 'M', { settings, permissions })).toThrow(
      /memberRoleName/,
    );
  });
});
