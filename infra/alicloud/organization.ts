/**
 * atrest across an Alibaba Cloud Resource Directory, from one central deployment (CONTRACT.md
 * section 7). Two ROS templates beside the central AtrestAlicloudStack:
 *
 *   AtrestOrg (management or delegated administrator account, home region)
 *     ActionTrail multi-account trail (IsOrganizationTrail) ─▶ SLS project ─▶ logstore
 *       actiontrail_<trail>: every member's records, read by the trail path (FC log trigger)
 *     ROS stack group (service-managed, auto-deployment) ─▶ AtrestMember in every member of the
 *       chosen folders, home region only (RAM is global)
 *
 *   AtrestMember (each member account)
 *     RAM role <memberRoleName>: trusted only by the central functions' RAM roles (by ARN, in the
 *     central account), with exactly the actions of their permissions.ts on this account's
 *     resources in any region. Not the broad ResourceDirectoryAccountAccessRole.
 *
 * A function's self-invoke grant (cluster-kms defers with fc:InvokeFunction on itself) stays in
 * the central account: the member role never needs it.
 */
import * as ros from '@alicloud/ros-cdk-core';
import * as ram from '@alicloud/ros-cdk-ram';
import { ConfigError } from '#core/errors';
import { fillResource, type PermissionSet } from '#core/permissions';
import { type FunctionId, functionSpec } from '../functions.ts';
import type { AlicloudFunctionId } from './atrest-stack.ts';

export const DEFAULT_TRAIL_NAME = 'atrest-org-trail';
const FOLDER_ID = /^(fd-[A-Za-z0-9]{4,32}|r-[A-Za-z0-9]{4,32})$/;

export interface AlicloudOrganizationSettings {
  /** The member role's name (config `alicloud.organization.memberRoleName`). */
  memberRoleName: string;
  /** Resource Directory folders (or the root folder) whose members get the member role. */
  folderIds: readonly string[];
  /** Where the central functions run; their RAM role names end with it. */
  homeRegion: string;
  /** The central functions' name prefix (AtrestAlicloudStack `namePrefix`); default `atrest`. */
  namePrefix?: string;
  /** The multi-account trail's name; default `atrest-org-trail`. */
  trailName?: string;
}

export function checkAlicloudOrganizationSettings(s: AlicloudOrganizationSettings): void {
  const issues: string[] = [];
  if (!/^[A-Za-z0-9.-]{1,64}$/.test(s.memberRoleName))
    issues.push(`memberRoleName: ${JSON.stringify(s.memberRoleName)} is not a RAM role name`);
  if (s.folderIds.length === 0)
    issues.push('folderIds: name at least one Resource Directory folder (fd-… or r-…)');
  for (const f of s.folderIds)
    if (!FOLDER_ID.test(f)) issues.push(`folderIds: ${JSON.stringify(f)} is not fd-… or r-…`);
  if (issues.length > 0) throw new ConfigError(issues);
}

/** The central function's RAM role, as AtrestAlicloudStack names it: `<prefix>-<name>-<region>`. */
export const centralRoleName = (fn: FunctionId, region: string, prefix = 'atrest'): string =>
  `${prefix}-${functionSpec(fn).name}-${region}`;

/** The statements a member role needs: every function's, less each one's self-invoke grant. */
export function memberStatements(
  permissions: ReadonlyMap<FunctionId, PermissionSet>,
): PermissionSet['statements'] {
  return [...permissions.values()].flatMap((set) =>
    set.statements.filter((s) => !(s.actions.length === 1 && s.actions[0] === 'fc:InvokeFunction')),
  );
}

export interface AtrestMemberStackProps extends ros.StackProps {
  settings: AlicloudOrganizationSettings;
  /** permissions.ts of every centrally deployed function. */
  permissions: ReadonlyMap<FunctionId, PermissionSet>;
}

/** Each member account: the one role the central functions assume there. */
export class AtrestAlicloudMemberStack extends ros.Stack {
  readonly role: ram.Role;

  constructor(scope: ros.Construct, id: string, props: AtrestMemberStackProps) {
    super(scope, id, {
      ...props,
      description:
        'atrest member account: the RAM role the central atrest functions assume (exactly their actions, trusted only by their roles).',
    });
    checkAlicloudOrganizationSettings(props.settings);
    const central = new ros.RosParameter(this, 'CentralAccountId', {
      type: ros.RosParameterType.STRING,
      description: 'The account (UID) where the central atrest functions run.',
      allowedPattern: '^\\d{1,20}$',
    });
    const fns = [...props.permissions.keys()] as AlicloudFunctionId[];
    const principals = fns.map((fn) =>
      ros.Fn.sub(
        `acs:ram::\${CentralAccountId}:role/${centralRoleName(fn, props.settings.homeRegion, props.settings.namePrefix)}`,
        { CentralAccountId: central.valueAsString },
      ),
    );
    this.role = new ram.Role(this, 'MemberRole', {
      roleName: props.settings.memberRoleName,
      description:
        'atrest: assumed by the central atrest functions; exactly the actions of their permissions.ts',
      maxSessionDuration: 3600,
      assumeRolePolicyDocument: {
        version: '1',
        statement: [{ action: 'sts:AssumeRole', effect: 'Allow', principal: { ram: principals } }],
      },
      policies: [
        {
          policyName: `${props.settings.memberRoleName}-policy`,
          policyDocument: {
            version: '1',
            statement: memberStatements(props.permissions).map((s) => ({
              effect: 'Allow',
              action: [...s.actions],
              resource: s.resources.map(memberResource),
            })),
          },
        },
      ],
    });
    new ros.RosOutput(this, 'MemberRoleArn', { value: this.role.attrArn });
  }
}

/** A permissions.ts pattern in the member: this account, any region. */
function memberResource(pattern: string): string {
  const filled = fillResource(pattern, { partition: 'acs', account: `\${ALIYUN::AccountId}`, region: '*' });
  return filled.includes('${') ? ros.Fn.sub(filled) : filled;
}

export interface AtrestOrgStackProps extends ros.StackProps {
  settings: AlicloudOrganizationSettings;
  /** The member template (AtrestAlicloudMemberStack, synthesised). */
  memberTemplate: Record<string, unknown>;
}

/** The management (or delegated administrator) account: the multi-account trail and the stack group. */
export class AtrestAlicloudOrgStack extends ros.Stack {
  constructor(scope: ros.Construct, id: string, props: AtrestOrgStackProps) {
    super(scope, id, {
      ...props,
      description:
        'atrest organization: multi-account ActionTrail trail into one SLS logstore, and the member role stack group.',
    });
    const { settings } = props;
    checkAlicloudOrganizationSettings(settings);
    const trailName = settings.trailName ?? DEFAULT_TRAIL_NAME;

    const project = new ros.RosResource(this, 'TrailProject', {
      type: 'ALIYUN::SLS::Project',
      properties: {
        Name: ros.Fn.sub(`${trailName}-\${ALIYUN::AccountId}`),
        Description: 'atrest: ActionTrail records of every Resource Directory member',
      },
    });
    const trail = new ros.RosResource(this, 'Trail', {
      type: 'ALIYUN::ACTIONTRAIL::Trail',
      properties: {
        Name: trailName,
        // Write events are the creations and the tampers; reads would only add volume.
        EventRW: 'Write',
        TrailRegion: 'All',
        IsOrganizationTrail: true,
        SlsProjectArn: ros.Fn.sub(
          `acs:log:\${ALIYUN::Region}:\${ALIYUN::AccountId}:project/${trailName}-\${ALIYUN::AccountId}`,
        ),
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a ROS Fn::Sub string, resolved at deployment.
        SlsWriteRoleArn: ros.Fn.sub('acs:ram::${ALIYUN::AccountId}:role/aliyunserviceroleforactiontrail'),
      },
    });
    // ROS CDK renders DependsOn from logical ids (addDependsOn alone leaves the template without it).
    trail.addRosDependency(project.logicalId);
    const logging = new ros.RosResource(this, 'TrailLogging', {
      type: 'ALIYUN::ACTIONTRAIL::TrailLogging',
      properties: { Name: trailName, Enable: true },
    });
    logging.addRosDependency(trail.logicalId);

    const group = new ros.RosResource(this, 'MemberStackGroup', {
      type: 'ALIYUN::ROS::StackGroup',
      properties: {
        StackGroupName: 'atrest-member',
        Description: 'atrest: the member role in every member account of the chosen folders',
        PermissionModel: 'SERVICE_MANAGED',
        AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
        TemplateBody: props.memberTemplate,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a ROS Fn::Sub string, resolved at deployment.
        Parameters: { CentralAccountId: ros.Fn.sub('${ALIYUN::AccountId}') },
      },
    });
    const instances = new ros.RosResource(this, 'MemberStackInstances', {
      type: 'ALIYUN::ROS::StackInstances',
      properties: {
        StackGroupName: 'atrest-member',
        // RAM is global: one stack per member, in the home region.
        RegionIds: [settings.homeRegion],
        DeploymentTargets: { RdFolderIds: [...settings.folderIds] },
      },
    });
    instances.addRosDependency(group.logicalId);

    new ros.RosOutput(this, 'TrailLogstore', {
      // ActionTrail names the logstore it creates in the project after the trail.
      value: `actiontrail_${trailName}`,
      description: 'The logstore the trail path (FC log trigger) reads',
    });
    new ros.RosOutput(this, 'TrailProjectName', { value: project.getAtt('Name') });
  }
}

/** The member template as its own ROS document (what the stack group deploys). */
export function memberTemplate(props: AtrestMemberStackProps): Record<string, unknown> {
  const app = new ros.App();
  const stack = new AtrestAlicloudMemberStack(app, 'AtrestMember', props);
  return app.synth().getStackByName(stack.stackName).template as Record<string, unknown>;
}

/**
 * Organization mode of the Alibaba Cloud app: with context `rdFolderIds` (comma-separated), the
 * app also writes AtrestMember (the stack group's template) and AtrestOrg (trail + stack group).
 */
export function addAlicloudOrganization(
  app: ros.App,
  context: (key: string) => unknown,
  memberRoleName: string | undefined,
  permissions: ReadonlyMap<FunctionId, PermissionSet>,
  namePrefix?: string,
): AlicloudOrganizationSettings | undefined {
  const folders = context('rdFolderIds');
  if (folders === undefined) return undefined;
  if (typeof folders !== 'string') throw new ConfigError(['rdFolderIds: expected a comma-separated list']);
  const home = context('homeRegion') ?? process.env.ALIBABA_CLOUD_REGION_ID ?? 'cn-hangzhou';
  if (typeof home !== 'string') throw new ConfigError(['homeRegion: expected a region id']);
  const settings: AlicloudOrganizationSettings = {
    memberRoleName: memberRoleName ?? 'atrest-member',
    folderIds: folders
      .split(',')
      .map((f) => f.trim())
      .filter((f) => f !== ''),
    homeRegion: home,
    ...(namePrefix !== undefined ? { namePrefix } : {}),
  };
  new AtrestAlicloudMemberStack(app, 'AtrestMember', { settings, permissions });
  new AtrestAlicloudOrgStack(app, 'AtrestOrg', {
    settings,
    memberTemplate: memberTemplate({ settings, permissions }),
  });
  return settings;
}
