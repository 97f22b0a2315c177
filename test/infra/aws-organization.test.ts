/**
 * The AWS organization deployment (infra/aws/lib/organization.ts): the central bus admits only the
 * organization; the StackSets are service-managed, auto-deployed to the chosen OUs; the member
 * role trusts only the central function's role from inside the organization and holds exactly the
 * function's actions; the member rules forward exactly what the central stack listens to.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permissions } from '../../functions/aws/log-group-kms/permissions.ts';
import { EVENT_NAMES } from '../../functions/aws/log-group-kms/remediator.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import { AtrestStack } from '../../infra/aws/lib/atrest-stack.ts';
import {
  AtrestMemberForwardingStack,
  AtrestMemberRolesStack,
  FORWARDER_ROLE_NAME,
  ORG_BUS_NAME,
  type OrganizationCentral,
  type OrganizationSettings,
} from '../../infra/aws/lib/organization.ts';
import { addOrganization } from '../../infra/aws/lib/organization-app.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ORG = 'o-a1b2c3d4e5';
const OUS = ['ou-ab12-11111111', 'ou-ab12-22222222'];
const CONFIG = {
  aws: {
    organization: { memberRoleName: 'atrest-member', regions: ['us-east-1', 'eu-west-1'] },
    logGroupKms: { kmsKeyArn: KEY_ARN },
  },
};
const STUB_CODE = lambda.Code.fromInline('exports.handler = async () => [];');
const ACTIONS = permissions.statements.flatMap((s) => s.actions).sort();

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Synth {
  central: Template;
  roles: Template;
  forwarding: Template;
  org: OrganizationCentral;
  violations: unknown[];
}

function synth(context: Record<string, string> = {}): Synth {
  const outdir = mkdtempSync(join(tmpdir(), 'atrest-cdk-org-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new AtrestStack(app, 'Atrest', {
    config: CONFIG,
    permissions,
    code: STUB_CODE,
    alarmEmail: 'oncall@example.com',
    env: { account: '111122223333', region: 'us-east-1' },
  });
  const ctx: Record<string, string> = {
    organizationId: ORG,
    organizationalUnits: OUS.join(','),
    homeRegion: 'us-east-1',
    ...context,
  };
  const org = addOrganization(app, stack, (k) => ctx[k], CONFIG, permissions);
  if (!org) throw new Error('organization pieces not added');
  const find = (id: string) => app.node.findChild(id) as Stack;
  const central = Template.fromStack(stack);
  const roles = Template.fromStack(find('AtrestMemberRoles'));
  const forwarding = Template.fromStack(find('AtrestMemberForwarding'));
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: Array<{ violations: unknown[] }>;
  };
  return { central, roles, forwarding, org, violations: report.pluginReports.flatMap((r) => r.violations) };
}

describe('organization deployment (AWS)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });

  it('passes cdk-nag AwsSolutions on the central and both member templates', () => {
    expect(s.violations).toEqual([]);
  });

  it('central bus: only principals of the organization may put events', () => {
    s.central.hasResourceProperties('AWS::Events::EventBus', { Name: ORG_BUS_NAME });
    s.central.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'events:PutEvents',
        Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG } },
      }),
    });
  });

  it('central rules on the bus listen to exactly what the stack’s own CloudTrail rule listens to, into the function with a DLQ', () => {
    const own = Object.values(
      s.central.findResources('AWS::Events::Rule', { Properties: { EventBusName: Match.absent() } }),
    )
      .map((r) => (r as { Properties: { EventPattern?: unknown } }).Properties.EventPattern)
      .filter((p) => p !== undefined);
    const fromMembers = Object.values(
      s.central.findResources('AWS::Events::Rule', { Properties: { EventBusName: Match.anyValue() } }),
    ) as Array<{ Properties: { EventPattern: unknown; Targets: Array<Record<string, unknown>> } }>;
    expect(own).toHaveLength(1);
    expect(fromMembers.map((r) => r.Properties.EventPattern)).toEqual(own);
    expect(fromMembers[0]?.Properties.Targets[0]).toMatchObject({
      Id: 'Function',
      RetryPolicy: { MaximumRetryAttempts: 8 },
      DeadLetterConfig: { Arn: expect.anything() },
    });
    // Creations and tampers alike: a member's stripped key is restored like a new group.
    expect(own[0]).toMatchObject({ detail: { eventName: [...EVENT_NAMES.creation, ...EVENT_NAMES.tamper] } });
  });

  it('the central function may assume the member role in any account of this organization only', () => {
    s.central.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::*:role/atrest-member']] },
            Condition: { StringEquals: { 'aws:ResourceOrgID': ORG } },
          },
        ]),
      },
    });
  });

  it('two service-managed StackSets auto-deploy to the chosen OUs: roles once per account, forwarding in every region', () => {
    const sets = s.central.findResources('AWS::CloudFormation::StackSet');
    const byName = Object.fromEntries(
      Object.values(sets).map((r) => {
        const p = (r as { Properties: Record<string, unknown> }).Properties;
        return [p.StackSetName as string, p];
      }),
    );
    for (const name of ['AtrestMemberRoles', 'AtrestMemberForwarding'])
      expect(byName[name]).toMatchObject({
        PermissionModel: 'SERVICE_MANAGED',
        AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
        Capabilities: ['CAPABILITY_NAMED_IAM'],
      });
    expect(byName.AtrestMemberRoles?.StackInstancesGroup).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: OUS }, Regions: ['us-east-1'] },
    ]);
    expect(byName.AtrestMemberForwarding?.StackInstancesGroup).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: OUS }, Regions: ['us-east-1', 'eu-west-1'] },
    ]);
    // What each StackSet deploys is the member template of this synth, byte for byte.
    const rolesBody = JSON.parse(byName.AtrestMemberRoles?.TemplateBody as string);
    expect(rolesBody.Resources.MemberRole).toEqual(s.roles.toJSON().Resources.MemberRole);
    const forwardingBody = JSON.parse(byName.AtrestMemberForwarding?.TemplateBody as string);
    expect(forwardingBody.Resources).toEqual(s.forwarding.toJSON().Resources);
    expect(byName.AtrestMemberRoles?.Parameters).toContainEqual({
      ParameterKey: 'CentralRoleArn',
      ParameterValue: { 'Fn::GetAtt': [expect.stringMatching(/^LogGroupKmsRole/), 'Arn'] },
    });
  });

  it('member role: trusted only by the central function’s role, only from inside the organization', () => {
    s.roles.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'atrest-member',
      AssumeRolePolicyDocument: Match.objectEquals({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: { Ref: 'CentralRoleArn' } },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG } },
          },
        ],
      }),
    });
  });

  it('member role: exactly the function’s actions from permissions.ts, nothing more, no managed policy', () => {
    const role = Object.values(
      s.roles.findResources('AWS::IAM::Role', { Properties: { RoleName: 'atrest-member' } }),
    )[0] as {
      Properties: {
        Policies: Array<{ PolicyDocument: { Statement: Array<{ Action: string[]; Resource: unknown[] }> } }>;
        ManagedPolicyArns?: unknown;
      };
    };
    const statements = role.Properties.Policies.flatMap((p) => p.PolicyDocument.Statement);
    expect(statements.flatMap((st) => st.Action).sort()).toEqual(ACTIONS);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(statements.find((st) => st.Action.includes('logs:AssociateKmsKey'))?.Resource).toEqual([
      { 'Fn::Sub': ['arn:$', '{AWS::Partition}:logs:*:$', '{AWS::AccountId}:log-group:*'].join('') },
    ]);
    expect(s.roles.findResources('AWS::IAM::Policy')).toEqual({});
  });

  it('forwarder role: EventBridge of this account only, PutEvents on the central bus only', () => {
    s.roles.hasResourceProperties('AWS::IAM::Role', {
      RoleName: FORWARDER_ROLE_NAME,
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ],
      },
      Policies: [
        {
          PolicyName: 'atrest-forward',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: { Ref: 'CentralBusArn' } }],
          },
        },
      ],
    });
  });

  it('member forwarding rule: the central patterns, to the central bus, through the forwarder role', () => {
    const [rule] = Object.values(s.forwarding.findResources('AWS::Events::Rule')) as Array<{
      Properties: { EventPattern: unknown; Targets: unknown[] };
    }>;
    expect(rule?.Properties.EventPattern).toEqual(s.org.patterns[0]);
    expect(rule?.Properties.Targets).toEqual([
      {
        Id: 'CentralBus',
        Arn: { Ref: 'CentralBusArn' },
        RoleArn: { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${FORWARDER_ROLE_NAME}` },
      },
    ]);
  });

  it('delegated administrator: the StackSets are created with CallAs DELEGATED_ADMIN', () => {
    const d = synth({ delegatedAdmin: 'true' });
    d.central.hasResourceProperties('AWS::CloudFormation::StackSet', { CallAs: 'DELEGATED_ADMIN' });
  });

  it.each([
    [{ organizationId: 'org-1' }, /organizationId/],
    [{ organizationalUnits: ' , ' }, /organizationalUnits: name at least one/],
    [{ organizationalUnits: 'ou-x' }, /"ou-x" is not ou-/],
    [{ homeRegion: 'ap-south-1' }, /regions: must include the home region ap-south-1/],
  ])('a bad setting %j fails synth naming it', (context, message) => {
    expect(() => synth(context as Record<string, string>)).toThrow(ConfigError);
    expect(() => synth(context as Record<string, string>)).toThrow(message);
  });
});

describe('member stacks on their own', () => {
  it('synthesise without assets (a StackSet template must be self-contained)', () => {
    const app = new App();
    const settings: OrganizationSettings = {
      organizationId: ORG,
      organizationalUnits: OUS,
      memberRoleName: 'atrest-member',
      regions: ['us-east-1'],
      homeRegion: 'us-east-1',
    };
    new AtrestMemberRolesStack(app, 'R', { permissions, settings });
    new AtrestMemberForwardingStack(app, 'F', {
      patterns: [{ source: ['aws.logs'], 'detail-type': ['AWS API Call via CloudTrail'] }],
    });
    const assembly = app.synth();

    expect(assembly.stacks.every((st) => st.assets.length === 0)).toBe(true);
    for (const st of assembly.stacks) {
      const t = st.template as {
        Parameters?: Record<string, unknown>;
        Rules?: unknown;
        Resources: Record<string, { Type: string }>;
      };
      expect(t.Parameters?.BootstrapVersion).toBeUndefined();
      expect(t.Rules).toBeUndefined();
      expect(Object.values(t.Resources).map((r) => r.Type)).not.toContain('AWS::CDK::Metadata');
    }
  });
});
